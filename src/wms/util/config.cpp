#include "wms/util/config.hpp"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::util {

struct Config::Doc {
  YAML::Node root;
};

Config::Config() : doc_(std::make_shared<Doc>()) {}

Config Config::parse(const std::string& yaml_text, const std::string& source_name) {
  Config c;
  auto doc = std::make_shared<Doc>();
  try {
    doc->root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw InvalidInput("{}: line {}: {} (rule config.yaml)", source_name, e.mark.line + 1, e.msg);
  }
  if (doc->root && !doc->root.IsNull() && !doc->root.IsMap())
    throw InvalidInput("{}: the top level must be a mapping of keys (rule config.yaml)", source_name);
  c.doc_ = doc;
  c.source_ = source_name;
  return c;
}

Config Config::load(const std::filesystem::path& path) {
  return parse(read_file(path, 1 << 20), path.string());
}

namespace {

// Walks "a.b.c" (a number indexes a list) without modifying the tree (const operator[] never inserts);
// returns an undefined node when any part is absent.
YAML::Node find(const YAML::Node& node, const std::string& key, std::size_t start = 0) {
  if (key.empty()) return node;  // the whole document
  if (!node || !(node.IsMap() || node.IsSequence())) return YAML::Node(YAML::NodeType::Undefined);
  auto dot = key.find('.', start);
  std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
  if (node.IsSequence()) {  // "webhooks.0.url": a number indexes a list
    if (part.empty() || part.size() > 6 || part.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(part) >= node.size())
      return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node item = node[std::stoul(part)];
    return dot == std::string::npos ? item : find(item, key, dot + 1);
  }
  const YAML::Node child = node[part];
  return dot == std::string::npos ? child : find(child, key, dot + 1);
}

template <typename T>
T scalar(const YAML::Node& n, const std::string& source, const std::string& key, const char* type) {
  try {
    if (!n.IsScalar()) throw YAML::Exception(YAML::Mark::null_mark(), "not a scalar");
    return n.as<T>();
  } catch (const YAML::Exception&) {
    std::string found = n.IsScalar()     ? "'" + n.Scalar() + "'"
                        : n.IsSequence() ? "a list"
                        : n.IsMap()      ? "a mapping"
                                         : "nothing";
    throw InvalidInput("{}: {}: expected {}, found {} (rule config.type)", source, key, type, found);
  }
}

}  // namespace

bool Config::has(const std::string& key) const {
  auto n = find(doc_->root, key);
  return n.IsDefined() && !n.IsNull();
}

double Config::get_double(const std::string& key, double fallback) const {
  auto n = find(doc_->root, key);
  return n.IsDefined() && !n.IsNull() ? scalar<double>(n, source_, key, "a number") : fallback;
}

std::int64_t Config::get_int(const std::string& key, std::int64_t fallback) const {
  auto n = find(doc_->root, key);
  return n.IsDefined() && !n.IsNull() ? scalar<std::int64_t>(n, source_, key, "an integer") : fallback;
}

bool Config::get_bool(const std::string& key, bool fallback) const {
  auto n = find(doc_->root, key);
  return n.IsDefined() && !n.IsNull() ? scalar<bool>(n, source_, key, "true or false") : fallback;
}

std::string Config::get_string(const std::string& key, const std::string& fallback) const {
  auto n = find(doc_->root, key);
  return n.IsDefined() && !n.IsNull() ? scalar<std::string>(n, source_, key, "a string") : fallback;
}

std::vector<double> Config::get_double_list(const std::string& key, const std::vector<double>& fallback) const {
  auto n = find(doc_->root, key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  if (n.IsScalar()) return {scalar<double>(n, source_, key, "a number or a list of numbers")};
  if (!n.IsSequence()) throw InvalidInput("{}: {}: expected a list of numbers (rule config.type)", source_, key);
  std::vector<double> out;
  for (std::size_t i = 0; i < n.size(); ++i)
    out.push_back(scalar<double>(n[i], source_, key + "." + std::to_string(i), "a number"));
  return out;
}

std::vector<std::string> Config::get_string_list(const std::string& key,
                                                 const std::vector<std::string>& fallback) const {
  auto n = find(doc_->root, key);
  if (!n.IsDefined() || n.IsNull()) return fallback;
  if (n.IsScalar()) return {scalar<std::string>(n, source_, key, "a string or a list of strings")};
  if (!n.IsSequence()) throw InvalidInput("{}: {}: expected a list of strings (rule config.type)", source_, key);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n.size(); ++i)
    out.push_back(scalar<std::string>(n[i], source_, key + "." + std::to_string(i), "a string"));
  return out;
}

std::map<std::string, std::string> Config::get_string_map(const std::string& key) const {
  std::map<std::string, std::string> out;
  auto n = find(doc_->root, key);
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) throw InvalidInput("{}: {}: expected a mapping (rule config.type)", source_, key);
  for (const auto& kv : n)
    out[kv.first.as<std::string>()] =
        scalar<std::string>(kv.second, source_, key + "." + kv.first.as<std::string>(), "a string");
  return out;
}

std::vector<std::string> Config::children(const std::string& key) const {
  std::vector<std::string> out;
  auto n = find(doc_->root, key);
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) throw InvalidInput("{}: {}: expected a mapping (rule config.type)", source_, key);
  for (const auto& kv : n) out.push_back(kv.first.as<std::string>());
  return out;
}

Config Config::sub(const std::string& key) const {
  Config c;
  auto doc = std::make_shared<Doc>();
  auto n = find(doc_->root, key);
  if (n.IsDefined() && !n.IsNull()) {
    if (!n.IsMap()) throw InvalidInput("{}: {}: expected a mapping (rule config.type)", source_, key);
    doc->root = n;
  }
  c.doc_ = doc;
  c.source_ = source_ + " (" + key + ")";
  return c;
}

namespace {

// A key as YAML reads it: bare when it is a plain word, else a quoted string.
// Words YAML reads as something other than a string (null, booleans in YAML 1.1 and
// 1.2, numbers) are quoted too.
std::string yaml_key(const std::string& k) {
  bool plain = !k.empty() && k.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                                 std::string::npos;
  std::string lower;
  for (char c : k) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* kSpecial[] = {"null", "true", "false", "yes", "no", "on", "off", "y", "n"};
  for (const char* w : kSpecial) plain = plain && lower != w;
  plain = plain && !std::isdigit(static_cast<unsigned char>(k[0])) && k[0] != '-';
  return plain ? k : nlohmann::json(k).dump();
}

void emit_block(std::string& out, const nlohmann::ordered_json& v, int indent) {
  for (const auto& [k, item] : v.items()) {
    out += std::string(indent, ' ') + yaml_key(k) + ":";
    if (item.is_object()) {
      out += "\n";
      emit_block(out, item, indent + 2);
    } else {
      out += " " + item.dump() + "\n";
    }
  }
}

}  // namespace

void write_yaml_section(const std::filesystem::path& file, const std::string& key,
                        const nlohmann::ordered_json& value) {
  std::string text = std::filesystem::exists(file) ? read_file(file, 1 << 20) : "";
  Config::parse(text, file.string());  // refuse to edit a file that is not YAML
  // The section: its `key:` line at column 0 and every following line that is blank or
  // indented; it ends at the next line that starts in column 0 (a key or a comment).
  std::vector<std::string> lines;
  for (std::size_t b = 0; b < text.size();) {
    auto e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    lines.push_back(text.substr(b, e - b));
    b = e + 1;
  }
  auto is_key_line = [&](const std::string& l) {
    return l.rfind(key + ":", 0) == 0 || l.rfind("\"" + key + "\":", 0) == 0;
  };
  std::size_t begin = lines.size(), end = lines.size();
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (is_key_line(lines[i])) {
      begin = i;
      for (end = i + 1; end < lines.size(); ++end) {
        const std::string& l = lines[end];
        if (!l.empty() && l[0] != ' ' && l[0] != '\t') break;
      }
      while (end > begin + 1 && lines[end - 1].find_first_not_of(" \t") == std::string::npos)
        --end;  // keep blank lines
      break;
    }
  std::string section;
  if (!value.is_null()) {
    section = key + ":\n";
    emit_block(section, value, 2);
    if (value.empty()) section = key + ": {}\n";
  }
  std::string out;
  for (std::size_t i = 0; i < begin && i < lines.size(); ++i) out += lines[i] + "\n";
  if (begin == lines.size() && !out.empty() && out != "\n" && !section.empty()) out += "\n";
  out += section;
  for (std::size_t i = end; i < lines.size(); ++i) out += lines[i] + (i + 1 < lines.size() ? "\n" : "");
  if (!out.empty() && out.back() != '\n') out += "\n";
  Config::parse(out, file.string());
  atomic_write(file, out);
}

}  // namespace wms::util
