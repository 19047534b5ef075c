#include "wms/image/header.hpp"

#include <cstring>

namespace wms::image {
namespace {

std::uint32_t be16(const unsigned char* p) {
  return (p[0] << 8) | p[1];
}
std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool is_sof(unsigned m) {
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

Header read_jpeg(std::string_view bytes, const std::string& name) {
  const unsigned char* d = u8(bytes);
  const std::size_t n = bytes.size();
  Header h;
  h.format = Format::kJpeg;
  bool have_sof = false;
  std::size_t pos = 2;  // after SOI
  for (;;) {
    // Find the next marker: 0xFF, optional fill 0xFFs, then the marker code.
    if (pos >= n) break;
    if (d[pos] != 0xFF) throw ImageError("file.decodable", name, "corrupt JPEG: marker expected");
    while (pos < n && d[pos] == 0xFF) ++pos;
    if (pos >= n) break;
    unsigned m = d[pos++];
    if (m == 0xD9) {  // EOI
      if (!have_sof) throw ImageError("file.decodable", name, "corrupt JPEG: no frame header");
      return h;
    }
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // standalone markers
    if (pos + 2 > n) break;
    std::size_t len = be16(d + pos);
    if (len < 2) throw ImageError("file.decodable", name, "corrupt JPEG: bad segment length");
    if (pos + len > n) break;
    const unsigned char* seg = d + pos + 2;
    std::size_t seg_len = len - 2;
    if (is_sof(m)) {
      if (seg_len < 6) throw ImageError("file.decodable", name, "corrupt JPEG: short frame header");
      h.height = static_cast<int>(be16(seg + 1));
      h.width = static_cast<int>(be16(seg + 3));
      h.channels = seg[5];
      if (h.width == 0 || h.height == 0 || (h.channels != 1 && h.channels != 3 && h.channels != 4))
        throw ImageError("file.decodable", name, "corrupt JPEG: bad frame header");
      have_sof = true;
    } else if (m == 0xE1 && seg_len >= 6 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      h.orientation = exif_orientation_from_tiff(std::string_view(reinterpret_cast<const char*>(seg + 6), seg_len - 6));
    }
    pos += len;
    if (m == 0xDA) {  // start of scan: skip entropy-coded data up to the next real marker
      if (!have_sof) throw ImageError("file.decodable", name, "corrupt JPEG: scan before frame header");
      while (pos + 1 < n) {
        if (d[pos] == 0xFF && d[pos + 1] != 0x00 && !(d[pos + 1] >= 0xD0 && d[pos + 1] <= 0xD7) && d[pos + 1] != 0xFF)
          break;
        ++pos;
      }
      if (pos + 1 >= n) break;
    }
  }
  if (!have_sof) throw ImageError("file.decodable", name, "truncated JPEG: the data ends before the frame header");
  h.truncated = true;
  return h;
}

Header read_png(std::string_view bytes, const std::string& name) {
  const unsigned char* d = u8(bytes);
  const std::size_t n = bytes.size();
  Header h;
  h.format = Format::kPng;
  std::size_t pos = 8;
  bool have_ihdr = false;
  while (pos + 8 <= n) {
    std::size_t len = be32(d + pos);
    std::string_view type(reinterpret_cast<const char*>(d + pos + 4), 4);
    if (len > n || pos + 12 + len > n) break;
    const unsigned char* data = d + pos + 8;
    if (!have_ihdr) {
      if (type != "IHDR" || len < 13) throw ImageError("file.decodable", name, "corrupt PNG: IHDR chunk missing");
      h.width = static_cast<int>(be32(data));
      h.height = static_cast<int>(be32(data + 4));
      if (h.width <= 0 || h.height <= 0) throw ImageError("file.decodable", name, "corrupt PNG: bad size in IHDR");
      switch (data[9]) {
        case 0: h.channels = 1; break;
        case 2: h.channels = 3; break;
        case 3: h.channels = 3; break;  // palette
        case 4: h.channels = 2; break;
        case 6: h.channels = 4; break;
        default: throw ImageError("file.decodable", name, "corrupt PNG: unknown colour type");
      }
      have_ihdr = true;
    } else if (type == "eXIf") {
      h.orientation = exif_orientation_from_tiff(std::string_view(reinterpret_cast<const char*>(data), len));
    } else if (type == "IEND") {
      return h;
    }
    pos += 12 + len;
  }
  if (!have_ihdr) throw ImageError("file.decodable", name, "truncated PNG: the data ends before IHDR");
  h.truncated = true;
  return h;
}

}  // namespace

std::string_view format_name(Format f) {
  switch (f) {
    case Format::kJpeg: return "JPEG";
    case Format::kPng: return "PNG";
    default: return "unknown";
  }
}

Format sniff_format(std::string_view b) {
  if (b.size() >= 3 && u8(b)[0] == 0xFF && u8(b)[1] == 0xD8 && u8(b)[2] == 0xFF) return Format::kJpeg;
  if (b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return Format::kPng;
  return Format::kUnknown;
}

namespace {

// What a file that is not JPEG or PNG is, from its first bytes, with the way out.
std::string describe_unknown(std::string_view b) {
  using namespace std::string_view_literals;  // signatures hold NUL bytes
  auto starts = [&](std::string_view sig, std::size_t at = 0) {
    return b.size() >= at + sig.size() && b.substr(at, sig.size()) == sig;
  };
  if (starts("version https://git-lfs")) return "a Git LFS pointer file, not the image: run `git lfs pull` first";
  if (starts("ftyp", 4)) {
    std::string brand(b.substr(8, std::min<std::size_t>(4, b.size() - 8)));
    if (brand.starts_with("hei") || brand.starts_with("mif") || brand.starts_with("hev") || brand.starts_with("avi"))
      return fmt::format("HEIF/AVIF content (brand '{}'), as phones save it: export or convert it to JPEG", brand);
    return fmt::format("an ISO media file (brand '{}'): convert it to JPEG or PNG", brand);
  }
  if (starts("RIFF") && starts("WEBP", 8)) return "WebP content: convert it to JPEG or PNG";
  if (starts("GIF8")) return "GIF content: convert it to PNG";
  if (starts("BM")) return "BMP content: convert it to PNG";
  if (starts("II*\0"sv) || starts("MM\0*"sv)) return "TIFF content: convert it to JPEG or PNG";
  if (starts("%PDF")) return "a PDF document, not an image";
  if (starts("PK\x03\x04"sv)) return "a ZIP archive: unpack it";
  if (starts("\xFF\x0A"sv) || starts("\0\0\0\x0CJXL "sv)) return "JPEG XL content: convert it to JPEG";
  bool text = !b.empty();
  for (std::size_t i = 0; i < std::min<std::size_t>(b.size(), 64); ++i) {
    unsigned char c = b[i];
    text &= c >= 0x20 || c == '\n' || c == '\r' || c == '\t';
  }
  if (text) return "text, not an image (an error page or a pointer file saved in its place?)";
  std::string hex;
  for (std::size_t i = 0; i < std::min<std::size_t>(b.size(), 8); ++i)
    hex += fmt::format("{}{:02x}", i ? " " : "", static_cast<unsigned char>(b[i]));
  return fmt::format("unknown content (first bytes {})", hex);
}

}  // namespace

std::string describe_content(std::string_view bytes) {
  switch (sniff_format(bytes)) {
    case Format::kJpeg: return "a JPEG image";
    case Format::kPng: return "a PNG image";
    default: return bytes.empty() ? "an empty file" : describe_unknown(bytes);
  }
}

Header read_header(std::string_view bytes, const std::string& name) {
  if (bytes.empty()) throw ImageError("file.empty", name, "empty file (0 bytes)");
  switch (sniff_format(bytes)) {
    case Format::kJpeg: return read_jpeg(bytes, name);
    case Format::kPng: return read_png(bytes, name);
    default: throw ImageError("file.format", name, "not a JPEG or PNG file: " + describe_unknown(bytes));
  }
}

int exif_orientation_from_tiff(std::string_view tiff) {
  const unsigned char* t = u8(tiff);
  const std::size_t n = tiff.size();
  if (n < 8) return 1;
  bool le;
  if (t[0] == 'I' && t[1] == 'I')
    le = true;
  else if (t[0] == 'M' && t[1] == 'M')
    le = false;
  else
    return 1;
  auto rd16 = [&](std::size_t off) -> std::uint32_t { return le ? (t[off] | (t[off + 1] << 8)) : be16(t + off); };
  auto rd32 = [&](std::size_t off) -> std::uint32_t {
    return le ? (t[off] | (t[off + 1] << 8) | (t[off + 2] << 16) | (std::uint32_t(t[off + 3]) << 24)) : be32(t + off);
  };
  if (rd16(2) != 42) return 1;
  std::size_t ifd = rd32(4);
  if (ifd > n || ifd + 2 > n) return 1;
  std::size_t count = rd16(ifd);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t e = ifd + 2 + 12 * i;
    if (e + 12 > n) return 1;
    if (rd16(e) != 0x0112) continue;
    std::uint32_t type = rd16(e + 2);
    std::uint32_t value = type == 3 ? rd16(e + 8) : type == 4 ? rd32(e + 8) : 0;
    return (value >= 1 && value <= 8) ? static_cast<int>(value) : 1;
  }
  return 1;
}

}  // namespace wms::image
