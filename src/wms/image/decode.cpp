#include "wms/image/decode.hpp"
#include <fmt/format.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <vector>

namespace wms::image {
namespace {

Decoded decode(std::string_view bytes, const std::string& name, const DecodeLimits& limits, int cv_flags) {
  Decoded out;
  out.header = read_header(bytes, name);
  const Header& h = out.header;
  if (h.pixels() > limits.max_pixels)
    throw ImageError("image.too_large", name,
                     fmt::format("{}x{} = {} pixels, over the limit of {} (refused before decoding)", h.width, h.height,
                                 h.pixels(), limits.max_pixels));
  if (h.truncated)
    throw ImageError("file.decodable", name,
                     fmt::format("truncated {}: the data ends before the end-of-image marker", format_name(h.format)));
  cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  try {
    out.pixels = cv::imdecode(raw, cv_flags | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    throw ImageError("file.decodable", name, fmt::format("cannot decode {}: {}", format_name(h.format), e.msg));
  }
  if (out.pixels.empty())
    throw ImageError("file.decodable", name, fmt::format("corrupt {}: the decoder rejected it", format_name(h.format)));
  if (out.pixels.cols != h.width || out.pixels.rows != h.height)
    throw ImageError("file.decodable", name, "corrupt image: decoded size differs from its header");
  apply_orientation(out.pixels, h.orientation);
  return out;
}

}  // namespace

Decoded decode_image(std::string_view bytes, const std::string& name, const DecodeLimits& limits) {
  return decode(bytes, name, limits, cv::IMREAD_COLOR);
}

Decoded decode_mask(std::string_view bytes, const std::string& name, const DecodeLimits& limits) {
  return decode(bytes, name, limits, cv::IMREAD_GRAYSCALE);
}

// Mirrors the EXIF definition (and OpenCV's ExifTransform): 1 TL, 2 TR, 3 BR, 4 BL,
// 5 LT, 6 RT, 7 RB, 8 LB.
void apply_orientation(cv::Mat& img, int o) {
  switch (o) {
    case 2: cv::flip(img, img, 1); break;
    case 3: cv::flip(img, img, -1); break;
    case 4: cv::flip(img, img, 0); break;
    case 5: cv::transpose(img, img); break;
    case 6: cv::rotate(img, img, cv::ROTATE_90_CLOCKWISE); break;
    case 7:
      cv::flip(img, img, -1);
      cv::transpose(img, img);
      break;
    case 8: cv::rotate(img, img, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: break;
  }
}

void undo_orientation(cv::Mat& img, int o) {
  switch (o) {
    case 6: cv::rotate(img, img, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    case 8: cv::rotate(img, img, cv::ROTATE_90_CLOCKWISE); break;
    default: apply_orientation(img, o); break;  // 1-5 and 7 are their own inverses
  }
}

cv::Mat binarize_mask(const cv::Mat& gray, int threshold) {
  cv::Mat out;
  cv::threshold(gray, out, threshold - 1, 255, cv::THRESH_BINARY);  // > t-1  <=>  >= t
  return out;
}

std::string encode_npy_float32(const cv::Mat& m) {
  if (m.type() != CV_32FC1) throw Internal("encode_npy_float32: expected CV_32FC1");
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", m.rows, m.cols);
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  cv::Mat c = m.isContinuous() ? m : m.clone();
  out.append(reinterpret_cast<const char*>(c.ptr<float>()), c.total() * sizeof(float));
  return out;
}

std::string encode_png(const cv::Mat& img) {
  std::vector<unsigned char> buf;
  if (!cv::imencode(".png", img, buf)) throw Internal("PNG encoding failed");
  return {buf.begin(), buf.end()};
}

std::string encode_jpeg(const cv::Mat& img, int quality) {
  std::vector<unsigned char> buf;
  if (!cv::imencode(".jpg", img, buf, {cv::IMWRITE_JPEG_QUALITY, quality})) throw Internal("JPEG encoding failed");
  return {buf.begin(), buf.end()};
}

}  // namespace wms::image
