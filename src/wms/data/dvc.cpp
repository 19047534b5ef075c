#include "wms/data/dvc.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "wms/util/error.hpp"
#include "wms/util/hash.hpp"

namespace wms::data {
namespace {

std::vector<std::string_view> parts(std::string_view p) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    auto slash = p.find('/', start);
    out.push_back(p.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

// Decodes one UTF-8 code point at s[i]; returns it and advances i. Invalid bytes
// become U+FFFD (file names that are not UTF-8 are refused earlier by validation).
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  unsigned char c = s[i];
  int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
  if (extra < 0 || i + extra >= s.size()) {  // needs s[i..i+extra]
    ++i;
    return 0xFFFD;
  }
  std::uint32_t cp = extra == 0 ? c : c & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) {
    unsigned char cc = s[i + k];
    if ((cc >> 6) != 2) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  i += extra + 1;
  return cp;
}

}  // namespace

void sort_listing(Listing& listing) {
  std::sort(listing.begin(), listing.end(),
            [](const Entry& a, const Entry& b) { return parts(a.relpath) < parts(b.relpath); });
}

std::string python_json_quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = next_code_point(s, i);
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (cp >= 0x20 && cp < 0x7F) {
          out += static_cast<char>(cp);
        } else if (cp < 0x10000) {
          out += fmt::format("\\u{:04x}", cp);
        } else {
          cp -= 0x10000;
          out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        }
    }
  }
  out += '"';
  return out;
}

std::string dir_json(Listing listing) {
  sort_listing(listing);
  std::string out = "[";
  for (std::size_t i = 0; i < listing.size(); ++i) {
    if (i) out += ", ";
    out += "{\"md5\": " + python_json_quote(listing[i].md5) +
           ", \"relpath\": " + python_json_quote(listing[i].relpath) + "}";
  }
  out += "]";
  return out;
}

Listing parse_dir_json(std::string_view text, const std::string& source) {
  Listing out;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) throw Corrupt("{}: not a DVC directory listing (expected a JSON array)", source);
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("md5") || !e.contains("relpath") || !e["md5"].is_string() ||
        !e["relpath"].is_string() || !util::is_md5_hex(e["md5"].get<std::string>()))
      throw Corrupt("{}: not a DVC directory listing (entry without md5/relpath)", source);
    out.push_back({e["relpath"].get<std::string>(), e["md5"].get<std::string>(), 0});
  }
  sort_listing(out);
  return out;
}

std::string dvc_file_text(const DvcOut& o) {
  return fmt::format("outs:\n- md5: {}\n  size: {}\n  nfiles: {}\n  hash: md5\n  path: {}\n", o.md5, o.size, o.nfiles,
                     o.path);
}

DvcOut parse_dvc_file(std::string_view text, const std::string& source) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    const YAML::Node outs = root["outs"];
    if (!outs || !outs.IsSequence() || outs.size() == 0) throw Corrupt("{}: no 'outs' list (not a .dvc file)", source);
    const YAML::Node o = outs[0];
    DvcOut out;
    out.md5 = o["md5"] ? o["md5"].as<std::string>() : "";
    out.path = o["path"] ? o["path"].as<std::string>() : "";
    out.size = o["size"] ? o["size"].as<std::uint64_t>() : 0;
    out.nfiles = o["nfiles"] ? o["nfiles"].as<std::uint64_t>() : 0;
    out.hash = o["hash"] ? o["hash"].as<std::string>() : "";
    if (!out.hash.empty() && out.hash != "md5")
      throw Corrupt("{}: outs[0].hash '{}' is not supported (wms reads md5, DVC's default)", source, out.hash);
    std::string bare =
        out.md5.size() > 4 && out.md5.ends_with(".dir") ? out.md5.substr(0, out.md5.size() - 4) : out.md5;
    if (!util::is_md5_hex(bare) || out.path.empty())
      throw Corrupt("{}: outs[0] needs an md5 and a path (not a .dvc file)", source);
    return out;
  } catch (const YAML::Exception& e) {
    throw Corrupt("{}: not valid YAML: {}", source, e.msg);
  }
}

}  // namespace wms::data
