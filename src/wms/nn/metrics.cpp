#include "wms/nn/metrics.hpp"

#include <opencv2/imgproc.hpp>

#include <cmath>

#include "wms/util/error.hpp"

namespace wms::nn {
namespace {

// max over foreground pixels of `from` of the distance to the nearest foreground pixel of `to`.
double directed_hausdorff(const cv::Mat& from, const cv::Mat& to) {
  cv::Mat inv, dist;
  cv::compare(to, 0, inv, cv::CMP_EQ);  // 255 where `to` is background
  cv::distanceTransform(inv, dist, cv::DIST_L2, cv::DIST_MASK_PRECISE);
  double mx = 0;
  cv::minMaxLoc(dist, nullptr, &mx, nullptr, nullptr, from);
  return mx;
}

}  // namespace

MaskScores score_masks(const cv::Mat& pred, const cv::Mat& truth, bool with_hausdorff) {
  if (pred.size() != truth.size() || pred.type() != CV_8UC1 || truth.type() != CV_8UC1)
    throw Internal("score_masks: masks differ in size or type");
  cv::Mat p, t, inter;
  cv::compare(pred, 0, p, cv::CMP_NE);
  cv::compare(truth, 0, t, cv::CMP_NE);
  cv::bitwise_and(p, t, inter);
  double ps = cv::countNonZero(p), ts = cv::countNonZero(t), is = cv::countNonZero(inter);
  double total = static_cast<double>(pred.total());
  const double smooth = 1e-6;
  MaskScores s;
  s.dice = (2.0 * is + smooth) / (ps + ts + smooth);
  s.iou = (is + smooth) / (ps + ts - is + smooth);
  s.accuracy = (total - (ps + ts - 2 * is)) / total;
  if (with_hausdorff) {
    if (ps == 0 && ts == 0)
      s.hausdorff = 0;
    else if (ps == 0 || ts == 0)
      s.hausdorff = std::hypot(pred.rows, pred.cols);
    else
      s.hausdorff = std::max(directed_hausdorff(p, t), directed_hausdorff(t, p));
  }
  return s;
}

MaskScores mean_scores(const std::vector<MaskScores>& v) {
  MaskScores m;
  if (v.empty()) return m;
  for (const auto& s : v) {
    m.dice += s.dice;
    m.iou += s.iou;
    m.accuracy += s.accuracy;
    m.hausdorff += s.hausdorff;
  }
  double n = static_cast<double>(v.size());
  m.dice /= n;
  m.iou /= n;
  m.accuracy /= n;
  m.hausdorff /= n;
  return m;
}

}  // namespace wms::nn
