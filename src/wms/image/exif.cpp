#include "wms/image/exif.hpp"

#include "wms/util/error.hpp"

namespace wms::image {

std::string jpeg_with_orientation(std::string_view jpeg, int orientation) {
  if (jpeg.size() < 2 || static_cast<unsigned char>(jpeg[0]) != 0xFF || static_cast<unsigned char>(jpeg[1]) != 0xD8)
    throw Internal("jpeg_with_orientation: not a JPEG");
  // TIFF little-endian header, IFD0 at offset 8 with one SHORT entry (0x0112), no next IFD.
  std::string tiff = std::string("II*\0", 4) + std::string("\x08\0\0\0", 4) + std::string("\x01\0", 2) +
                     std::string("\x12\x01\x03\0\x01\0\0\0", 8) + std::string(1, static_cast<char>(orientation)) +
                     std::string("\0\0\0", 3) + std::string("\0\0\0\0", 4);
  std::string payload = std::string("Exif\0\0", 6) + tiff;
  std::size_t len = payload.size() + 2;
  std::string seg = "\xFF\xE1";
  seg += static_cast<char>(len >> 8);
  seg += static_cast<char>(len & 0xFF);
  seg += payload;
  std::string out(jpeg.substr(0, 2));
  out += seg;
  out += jpeg.substr(2);
  return out;
}

}  // namespace wms::image
