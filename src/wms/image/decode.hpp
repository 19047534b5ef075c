// Decoding photos and masks into pixels, the same way everywhere in wms:
// the header is checked first (pixel limit, truncation), then OpenCV decodes with
// its own orientation handling off, and wms applies the EXIF orientation itself, so
// images and masks follow one rule (masks are drawn in the displayed frame).
// Thread-safe. Failures throw ImageError naming the file and the rule.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "wms/image/header.hpp"

namespace wms::image {

struct DecodeLimits {
  /// Refuse before decoding when width*height exceeds this (decompression bombs).
  /// 64 MP is above any phone photo; a 100 KB PNG can claim 50000x50000.
  std::int64_t max_pixels = 64'000'000;
};

/// A decoded image with the header it came from.
struct Decoded {
  cv::Mat pixels;  ///< orientation applied; CV_8UC3 (BGR) for images, CV_8UC1 for masks
  Header header;
};

/// Decodes a photo to 8-bit BGR with EXIF orientation applied.
Decoded decode_image(std::string_view bytes, const std::string& name, const DecodeLimits& limits = {});

/// Decodes a mask to 8-bit grayscale with EXIF orientation applied (not binarised).
Decoded decode_mask(std::string_view bytes, const std::string& name, const DecodeLimits& limits = {});

/// In place: turns stored pixels into the displayed frame for EXIF orientation 1..8.
void apply_orientation(cv::Mat& img, int orientation);

/// Inverse of apply_orientation: displayed frame back to stored pixels.
void undo_orientation(cv::Mat& img, int orientation);

/// Mask foreground rule of wms: value >= threshold -> 255, else 0 (CV_8UC1).
cv::Mat binarize_mask(const cv::Mat& gray, int threshold = 127);

std::string encode_png(const cv::Mat& img);
std::string encode_jpeg(const cv::Mat& img, int quality = 95);
/// A CV_32FC1 image as a NumPy .npy file (format version 1.0, dtype '<f4', C order,
/// shape (rows, cols); the header padded to 64 bytes as numpy.save writes it).
std::string encode_npy_float32(const cv::Mat& img);

}  // namespace wms::image
