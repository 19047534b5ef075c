#include "wms/image/augment.hpp"

#include <opencv2/imgproc.hpp>

namespace wms::image {

AugmentDraw draw_augment(std::mt19937_64& rng, const AugmentOptions& o) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  AugmentDraw d;
  d.hflip = u(rng) < o.hflip;
  d.vflip = u(rng) < o.vflip;
  if (u(rng) < o.rotation_prob) d.angle = -o.rotation_degrees + 2 * o.rotation_degrees * u(rng);
  if (u(rng) < o.brightness_prob)
    d.brightness = static_cast<float>(o.brightness_low + (o.brightness_high - o.brightness_low) * u(rng));
  if (o.scale_prob > 0 && u(rng) < o.scale_prob) d.scale = o.scale_low + (o.scale_high - o.scale_low) * u(rng);
  return d;
}

void apply_geometric(cv::Mat& photo, cv::Mat& mask, const AugmentDraw& d) {
  if (d.hflip) {
    cv::flip(photo, photo, 1);
    cv::flip(mask, mask, 1);
  }
  if (d.vflip) {
    cv::flip(photo, photo, 0);
    cv::flip(mask, mask, 0);
  }
  if (d.angle != 0 || d.scale != 1.0) {
    cv::Point2f centre((photo.cols - 1) / 2.0f, (photo.rows - 1) / 2.0f);
    cv::Mat m = cv::getRotationMatrix2D(centre, d.angle, d.scale);
    cv::Mat p, k;
    cv::warpAffine(photo, p, m, photo.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    cv::warpAffine(mask, k, m, mask.size(), cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    photo = p;
    mask = k;
  }
}

}  // namespace wms::image
