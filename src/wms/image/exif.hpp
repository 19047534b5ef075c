// Writing an EXIF orientation tag into a JPEG, as phone cameras do: the stored
// pixels stay as they are and the tag tells viewers how to turn them.
#pragma once

#include <string>
#include <string_view>

namespace wms::image {

/// Returns the JPEG with an APP1 "Exif" segment holding only Orientation = orientation
/// inserted right after SOI. REQUIRES: jpeg starts with SOI and has no EXIF segment.
std::string jpeg_with_orientation(std::string_view jpeg, int orientation);

}  // namespace wms::image
