// The model's input, prepared as the original recipe does it (valTransforms):
//   photo (EXIF applied) -> RGB -> resize to S x S (aspect not kept) -> scale to [0,1]
//   -> contrast stretch between the 2nd and 98th percentile of all values (one pair
//   for the three channels), clipped -> uint8 by truncation -> 3x3 median blur -> /255.
// Masks: binarised at >= 127 at full size, then resized nearest to S x S.
//
// Fast by construction: the stretch is a 256-entry lookup table built from a
// histogram (exact numpy percentiles), fused with the median on uint8, so the float
// image is written once. Resizing uses area averaging when shrinking (the original's
// PIL bilinear resize also averages when shrinking); cv::INTER_LINEAR when enlarging.
// Pure functions; thread-safe.
#pragma once

#include <opencv2/core.hpp>

#include <array>
#include <cstdint>

namespace wms::image {

/// BGR photo -> RGB uint8 size x size.
cv::Mat resize_photo(const cv::Mat& bgr, int size);

/// Grayscale mask -> uint8 0/1 size x size (binarised >= threshold first, then nearest).
cv::Mat resize_mask(const cv::Mat& gray, int size, int threshold = 127);

/// The stretch as a lookup table for this uint8 image: numpy's percentile (linear
/// interpolation) of v/255 over all values, then trunc(clip((v/255-p2)/(p98-p2+1e-6),0,1)*255).
std::array<std::uint8_t, 256> stretch_lut(const cv::Mat& rgb_u8);

/// Contrast stretch then 3x3 median blur (replicated border), uint8 in and out.
cv::Mat stretch_and_median(const cv::Mat& rgb_u8);

/// Writes an RGB uint8 image as planar float CHW in [0,1], times brightness, clipped.
/// REQUIRES: dst holds 3 * rows * cols floats.
void to_chw(const cv::Mat& rgb_u8, float* dst, float brightness = 1.0f);

/// resize_photo + stretch_and_median + to_chw, as the model sees a photo at inference.
/// REQUIRES: dst holds 3 * size * size floats.
void preprocess_photo(const cv::Mat& bgr, int size, float* dst);

}  // namespace wms::image
