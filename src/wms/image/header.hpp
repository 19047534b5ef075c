// Reading what an encoded image is without decoding it: format, stored size,
// channels, EXIF orientation, and whether the file is structurally complete.
//
// This is the guard in front of the decoder: the pixel limit is checked here, from
// the header, before any pixel buffer is allocated (decompression bombs), and a
// JPEG without its end-of-image marker or a PNG without IEND is reported as
// truncated (libjpeg would otherwise "decode" it, filling the rest with grey).
// Pure functions over bytes; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wms/util/error.hpp"

namespace wms::image {

/// Never renumber: written to reports.
enum class Format { kUnknown = 0, kJpeg = 1, kPng = 2 };
std::string_view format_name(Format f);

struct Header {
  Format format = Format::kUnknown;
  int width = 0;           ///< as stored, before orientation
  int height = 0;          ///< as stored, before orientation
  int channels = 0;        ///< 1 gray, 2 gray+alpha, 3 color, 4 color+alpha
  int orientation = 1;     ///< EXIF 1..8; absent, 0 or invalid values read as 1
  bool truncated = false;  ///< end marker missing: the data stops early

  bool swaps_axes() const { return orientation >= 5 && orientation <= 8; }
  int display_width() const { return swaps_axes() ? height : width; }
  int display_height() const { return swaps_axes() ? width : height; }
  std::int64_t pixels() const { return static_cast<std::int64_t>(width) * height; }
};

/// An image that cannot be used, with the validation rule it breaks
/// ("file.empty", "file.format", "file.decodable", "image.too_large", ...).
class ImageError : public InvalidInput {
 public:
  ImageError(std::string rule, const std::string& name, const std::string& detail)
      : InvalidInput("{}: {} (rule {})", name, detail, rule), rule_(std::move(rule)), detail_(detail) {}
  const std::string& rule() const { return rule_; }
  const std::string& detail() const { return detail_; }

 private:
  std::string rule_;
  std::string detail_;
};

/// Format from magic bytes (kUnknown if neither JPEG nor PNG).
Format sniff_format(std::string_view bytes);

/// What a file is, from its first bytes, for messages: "a JPEG image", "WebP content:
/// convert it to JPEG or PNG", "a Git LFS pointer file, ...", "text, not an image ...",
/// or "unknown content (first bytes ..)". Thread-safe.
std::string describe_content(std::string_view bytes);

/// Parses the header. Throws ImageError (file.empty, file.format, file.decodable) when
/// the bytes are empty, not JPEG/PNG, or structurally broken before the size is known.
/// A missing end marker is not thrown: it is reported in Header::truncated.
Header read_header(std::string_view bytes, const std::string& name);

/// EXIF orientation from a TIFF block ("II*\0..." / "MM\0*..."); 1 when absent or invalid.
int exif_orientation_from_tiff(std::string_view tiff);

}  // namespace wms::image
