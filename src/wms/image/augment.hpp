// Training augmentations of the original recipe, applied to a photo and its mask
// together: horizontal flip (p 0.5), vertical flip (p 0.3), rotation by U(-10, 10)
// degrees about the centre (p 0.5; photo bilinear, mask nearest, corners filled with
// 0), and brightness x U(0.8, 1.2) (p 0.3) applied after the contrast stretch; plus,
// when configured, a zoom about the centre.
// The draw is separate from the application so that a seeded RNG decides everything
// and the same draw can be applied twice (tests check photo/mask alignment).
#pragma once

#include <opencv2/core.hpp>

#include <random>

namespace wms::image {

struct AugmentOptions {
  double hflip = 0.5;            ///< augmentation.horizontal_flip
  double vflip = 0.3;            ///< augmentation.vertical_flip
  double rotation_prob = 0.5;    ///< augmentation.rotation_prob
  double rotation_degrees = 10;  ///< augmentation.rotation_degrees
  double brightness_prob = 0.3;  ///< augmentation.color_jitter_prob
  double brightness_low = 0.8;
  double brightness_high = 1.2;
  /// Zoom about the centre by U(scale_low, scale_high) with probability scale_prob
  /// (augmentation.scale_prob / scale_low / scale_high; off in the original): meters
  /// are photographed from different distances.
  double scale_prob = 0;
  double scale_low = 1.0;
  double scale_high = 1.0;
};

struct AugmentDraw {
  bool hflip = false;
  bool vflip = false;
  double angle = 0;         ///< degrees, counter-clockwise; 0 = no rotation
  float brightness = 1.0f;  ///< 1 = unchanged
  double scale = 1.0;       ///< zoom about the centre; 1 = unchanged
};

/// Draws in the original's order: hflip, vflip, rotate (+angle), brightness (+factor);
/// then scale (+factor) only when scale_prob > 0, so the original's draws are unchanged.
AugmentDraw draw_augment(std::mt19937_64& rng, const AugmentOptions& o);

/// Applies the flips, the rotation and the zoom to photo (any type) and mask (nearest)
/// in place.
void apply_geometric(cv::Mat& photo, cv::Mat& mask, const AugmentDraw& d);

}  // namespace wms::image
