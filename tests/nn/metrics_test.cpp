#include "wms/nn/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace wms::nn {
namespace {

cv::Mat rect_mask(int w, int h, cv::Rect r) {
  cv::Mat m = cv::Mat::zeros(h, w, CV_8UC1);
  m(r).setTo(255);
  return m;
}

TEST(Metrics, PerfectAndDisjointMasks) {
  cv::Mat a = rect_mask(20, 10, {2, 2, 4, 4});
  auto same = score_masks(a, a);
  EXPECT_NEAR(same.dice, 1.0, 1e-9);
  EXPECT_NEAR(same.iou, 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(same.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(same.hausdorff, 0.0);
  auto apart = score_masks(a, rect_mask(20, 10, {12, 2, 4, 4}));
  EXPECT_NEAR(apart.dice, 0.0, 1e-6);
  EXPECT_DOUBLE_EQ(apart.hausdorff, 10.0);
}

TEST(Metrics, HalfOverlapMatchesTheFormulas) {
  // 16 px each, 8 shared: dice = 16/32, iou = 8/24, 16 pixels wrong of 200.
  auto s = score_masks(rect_mask(20, 10, {0, 0, 4, 4}), rect_mask(20, 10, {2, 0, 4, 4}));
  EXPECT_NEAR(s.dice, 0.5, 1e-6);
  EXPECT_NEAR(s.iou, 1.0 / 3, 1e-6);
  EXPECT_NEAR(s.accuracy, 1 - 16.0 / 200, 1e-12);
  EXPECT_DOUBLE_EQ(s.hausdorff, 2.0);
}

TEST(Metrics, EmptyMaskRulesOfTheOriginal) {
  cv::Mat empty = cv::Mat::zeros(30, 40, CV_8UC1);
  auto both = score_masks(empty, empty);
  EXPECT_DOUBLE_EQ(both.hausdorff, 0.0);
  EXPECT_NEAR(both.dice, 1.0, 1e-9);  // (0 + eps) / (0 + eps)
  auto one = score_masks(empty, rect_mask(40, 30, {1, 1, 3, 3}));
  EXPECT_DOUBLE_EQ(one.hausdorff, 50.0);  // the diagonal of 40 x 30
  EXPECT_NEAR(one.dice, 0.0, 1e-6);
}

}  // namespace
}  // namespace wms::nn
