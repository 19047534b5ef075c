#include "wms/image/preprocess.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "wms/image/augment.hpp"

namespace wms::image {
namespace {

cv::Mat noise_image(int w, int h, unsigned seed) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG(seed).fill(m, cv::RNG::NORMAL, cv::Scalar::all(110), cv::Scalar::all(40));
  return m;
}

// Second path: numpy.percentile(..., method="linear") done the slow way, by sorting.
double numpy_percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  double pos = q / 100 * (v.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(pos));
  double frac = pos - lo;
  return lo + 1 < v.size() ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[lo];
}

TEST(Preprocess, StretchLutMatchesSortedPercentiles) {
  for (unsigned seed : {1u, 2u, 3u}) {
    cv::Mat img = noise_image(37, 23, seed);
    std::vector<double> values;
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols * 3; ++x) values.push_back(img.ptr<uchar>(y)[x] / 255.0);
    double p2 = numpy_percentile(values, 2), p98 = numpy_percentile(values, 98);
    auto lut = stretch_lut(img);
    for (int v = 0; v < 256; ++v) {
      double f = std::clamp((v / 255.0 - p2) / (p98 - p2 + 1e-6), 0.0, 1.0);
      EXPECT_NEAR(lut[v], std::floor(f * 255), 1.0) << "value " << v;
    }
    EXPECT_EQ(lut[0], 0);
    EXPECT_EQ(lut[255], 255);
  }
}

TEST(Preprocess, ConstantImageDoesNotDivideByZero) {
  cv::Mat flat(16, 16, CV_8UC3, cv::Scalar::all(77));
  cv::Mat out = stretch_and_median(flat);
  double mn, mx;
  cv::minMaxLoc(out.reshape(1), &mn, &mx);
  EXPECT_EQ(mn, mx);
}

TEST(Preprocess, ToChwIsPlanarScaledAndClipped) {
  cv::Mat img(1, 2, CV_8UC3);
  img.at<cv::Vec3b>(0, 0) = {255, 0, 51};
  img.at<cv::Vec3b>(0, 1) = {102, 204, 0};
  std::vector<float> out(6);
  to_chw(img, out.data(), 1.2f);
  EXPECT_FLOAT_EQ(out[0], 1.0f);  // 255 * 1.2 clipped
  EXPECT_NEAR(out[1], 102 / 255.0 * 1.2, 1e-6);
  EXPECT_FLOAT_EQ(out[2], 0.0f);
  EXPECT_NEAR(out[3], 204 / 255.0 * 1.2, 1e-6);
  EXPECT_NEAR(out[4], 51 / 255.0 * 1.2, 1e-6);
}

TEST(Preprocess, MaskIsBinarisedBeforeNearestResize) {
  cv::Mat m(100, 100, CV_8UC1, cv::Scalar(0));
  m(cv::Rect(0, 0, 50, 100)).setTo(127);  // exactly the threshold: foreground
  m(cv::Rect(50, 0, 50, 100)).setTo(126);
  cv::Mat r = resize_mask(m, 10);
  EXPECT_EQ(r.at<uchar>(5, 2), 1);
  EXPECT_EQ(r.at<uchar>(5, 8), 0);
}

// Augmentation moves photo and mask together: paint the mask into the photo, augment,
// and the photo's painted region must still sit on the mask.
TEST(Augment, KeepsPhotoAndMaskAligned) {
  std::mt19937_64 rng(11);
  AugmentOptions o;
  o.hflip = o.vflip = o.rotation_prob = 0.7;
  for (int trial = 0; trial < 40; ++trial) {
    cv::Mat mask = cv::Mat::zeros(64, 64, CV_8UC1);
    cv::rectangle(mask, cv::Rect(8 + trial % 20, 10, 25, 9), cv::Scalar(1), cv::FILLED);
    cv::Mat photo;
    cv::cvtColor(mask * 255, photo, cv::COLOR_GRAY2BGR);
    AugmentDraw d = draw_augment(rng, o);
    apply_geometric(photo, mask, d);
    cv::Mat painted, agree;
    cv::extractChannel(photo, painted, 0);
    cv::threshold(painted, painted, 127, 1, cv::THRESH_BINARY);
    cv::bitwise_xor(painted, mask, agree);
    EXPECT_LE(cv::countNonZero(agree), 30) << "trial " << trial << " angle " << d.angle;  // edges only
    EXPECT_GT(cv::countNonZero(mask), 150);
  }
}

TEST(Augment, DrawFollowsTheProbabilities) {
  std::mt19937_64 rng(3);
  AugmentOptions o;
  int h = 0, v = 0, r = 0, b = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    auto d = draw_augment(rng, o);
    h += d.hflip;
    v += d.vflip;
    r += d.angle != 0;
    b += d.brightness != 1.0f;
    EXPECT_LE(std::abs(d.angle), 10.0);
    EXPECT_GE(d.brightness, 0.8f);
    EXPECT_LE(d.brightness, 1.2f);
  }
  EXPECT_NEAR(h / double(n), 0.5, 0.02);
  EXPECT_NEAR(v / double(n), 0.3, 0.02);
  EXPECT_NEAR(r / double(n), 0.5, 0.02);
  EXPECT_NEAR(b / double(n), 0.3, 0.02);
}

TEST(Augment, ZoomIsDrawnOnlyWhenAskedAndKeepsAlignment) {
  std::mt19937_64 a(5), b(5);
  AugmentOptions plain, zoom;
  zoom.scale_prob = 0.5;
  zoom.scale_low = 0.6;
  zoom.scale_high = 1.3;
  int zoomed = 0;
  for (int i = 0; i < 4000; ++i) {
    auto p = draw_augment(a, plain);
    EXPECT_EQ(p.scale, 1.0) << "off by default: the original's draws are unchanged";
    auto z = draw_augment(b, zoom);
    EXPECT_GE(z.scale, 0.6);
    EXPECT_LE(z.scale, 1.3);
    zoomed += z.scale != 1.0;
    b = a;  // the same stream: the draws before the zoom must match the original's
    EXPECT_EQ(z.hflip, p.hflip);
    EXPECT_EQ(z.angle, p.angle);
  }
  EXPECT_NEAR(zoomed / 4000.0, 0.5, 0.03);
  cv::Mat mask = cv::Mat::zeros(64, 64, CV_8UC1);
  cv::rectangle(mask, cv::Rect(20, 24, 24, 12), cv::Scalar(1), cv::FILLED);
  cv::Mat photo;
  cv::cvtColor(mask * 255, photo, cv::COLOR_GRAY2BGR);
  AugmentDraw d;
  d.scale = 0.5;
  apply_geometric(photo, mask, d);
  EXPECT_NEAR(cv::countNonZero(mask), 24 * 12 / 4, 20) << "half the size: a quarter of the area";
  cv::Mat painted, agree;
  cv::extractChannel(photo, painted, 0);
  cv::threshold(painted, painted, 127, 1, cv::THRESH_BINARY);
  cv::bitwise_xor(painted, mask, agree);
  EXPECT_LE(cv::countNonZero(agree), 16);
}

}  // namespace
}  // namespace wms::image
