#include "wms/nn/regions.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace wms::nn {

const util::Names<Region> kRegionNames{
    {{Region::kAll, "all"}, {Region::kLargest, "largest"}, {Region::kWindow, "window"}}};

namespace {

struct Component {
  std::vector<cv::Point2f> points;
  double evidence = 0;  ///< summed probability
};

// Keeps the labels in `keep` of `labels`, painted with mask's foreground value.
cv::Mat paint(const cv::Mat& mask, const cv::Mat& labels, const std::vector<int>& keep) {
  double fg = 0;
  cv::minMaxLoc(mask, nullptr, &fg);
  cv::Mat result = cv::Mat::zeros(mask.size(), mask.type());
  for (int l : keep) {
    cv::Mat one;
    cv::compare(labels, l, one, cv::CMP_EQ);
    result.setTo(fg, one);
  }
  return result;
}

// Projections of `points` on the unit axes u and v: [min, max] of each.
struct Extent {
  float u0 = 1e30f, u1 = -1e30f, v0 = 1e30f, v1 = -1e30f;
};
Extent extent(const std::vector<cv::Point2f>& points, cv::Point2f c, cv::Point2f u, cv::Point2f v) {
  Extent e;
  for (const auto& p : points) {
    cv::Point2f d = p - c;
    float pu = d.dot(u), pv = d.dot(v);
    e.u0 = std::min(e.u0, pu), e.u1 = std::max(e.u1, pu);
    e.v0 = std::min(e.v0, pv), e.v1 = std::max(e.v1, pv);
  }
  return e;
}

// The mean of `probability` over the pixels whose projections on u and v (from c) lie
// inside `e` (open along u, closed along v); 0 when there are none.
double mean_in_rectangle(const cv::Mat& probability, cv::Point2f c, cv::Point2f u, cv::Point2f v, const Extent& e) {
  double sum = 0;
  std::size_t count = 0;
  for (int y = 0; y < probability.rows; ++y) {
    const float* p = probability.ptr<float>(y);
    for (int x = 0; x < probability.cols; ++x) {
      const cv::Point2f d = cv::Point2f(static_cast<float>(x), static_cast<float>(y)) - c;
      const float pu = d.dot(u), pv = d.dot(v);
      if (pu > e.u0 && pu < e.u1 && pv >= e.v0 && pv <= e.v1) sum += p[x], ++count;
    }
  }
  return count > 0 ? sum / count : 0.0;
}

// The mean probability across a gap of one to two thicknesses above which the piece
// beyond it is the same window (see regions.hpp: true gaps 0.16-0.26, false 0.002-0.005).
constexpr double kGapEvidence = 0.1;

// A reading window is long and the photo is framed on the meter: of the 970 hand-drawn
// windows of the dev photos, every oriented bounding rectangle is 3.0-8.5 times as long
// as it is thick (median 5.0), and every centre lies within 0.34 of the photo's centre
// (in each axis, as a fraction of the side; 99% within 0.27). A region squatter than
// kWindowElongation is scored down by (elongation / it)^2, one centred further out than
// kWindowOffCentre by (1 - excess / kOffCentreFade)^2 (see regions.hpp).
constexpr double kWindowElongation = 3.0;
constexpr double kWindowOffCentre = 0.35;
constexpr double kOffCentreFade = 0.15;

cv::Mat select_window(const cv::Mat& mask, const cv::Mat& probability) {
  CV_Assert(probability.type() == CV_32FC1 && probability.size() == mask.size());
  cv::Mat labels;
  const int n = cv::connectedComponents(mask, labels, 8, CV_32S);
  if (n <= 2) return mask.clone();  // background plus at most one region
  std::vector<Component> comps(n);
  for (int y = 0; y < labels.rows; ++y) {
    const int* l = labels.ptr<int>(y);
    const float* p = probability.ptr<float>(y);
    for (int x = 0; x < labels.cols; ++x)
      if (l[x] > 0) {
        comps[l[x]].points.emplace_back(static_cast<float>(x), static_cast<float>(y));
        comps[l[x]].evidence += p[x];
      }
  }
  // Evidence x shape: area * mean^4 * fill of the oriented bounding rectangle (pixels
  // counted with their extent, so a line of pixels is a rectangle one pixel thick),
  // scored down where it is squatter or further from the centre than a reading window.
  int best = 1;
  double best_score = -1;
  for (int i = 1; i < n; ++i) {
    const auto& c = comps[i];
    const double area = static_cast<double>(c.points.size());
    cv::RotatedRect r = cv::minAreaRect(c.points);
    const double fill = std::min(1.0, area / ((r.size.width + 1.0) * (r.size.height + 1.0)));
    const double mean = c.evidence / area;
    const double elongation = std::max(r.size.width + 1.0, r.size.height + 1.0) /
                              std::min(r.size.width + 1.0, r.size.height + 1.0);
    const double off_centre = std::max(std::abs(r.center.x / mask.cols - 0.5), std::abs(r.center.y / mask.rows - 0.5));
    // 1 for a region shaped and placed as every window of the dev photos.
    const double shaped = std::min(1.0, elongation / kWindowElongation);
    const double placed = 1.0 - std::clamp((off_centre - kWindowOffCentre) / kOffCentreFade, 0.0, 1.0);
    const double score = area * std::pow(mean, 4) * fill * (shaped * shaped) * (placed * placed);
    if (score > best_score) best_score = score, best = i;
  }
  // The pieces that continue the chosen region along its long axis.
  const auto& b = comps[best];
  cv::RotatedRect r = cv::minAreaRect(b.points);
  const float angle = static_cast<float>(r.angle * CV_PI / 180.0);
  cv::Point2f u(std::cos(angle), std::sin(angle)), v(-std::sin(angle), std::cos(angle));
  if (r.size.height > r.size.width) std::swap(u, v);
  const Extent e = extent(b.points, r.center, u, v);
  const float thickness = e.v1 - e.v0 + 1;
  const float band0 = e.v0 - 0.5f * thickness, band1 = e.v1 + 0.5f * thickness;
  std::vector<int> keep = {best};
  for (int i = 1; i < n; ++i) {
    const auto& c = comps[i];
    if (i == best || c.points.size() < 0.05 * b.points.size()) continue;
    std::size_t inside = 0;
    for (const auto& p : c.points) {
      float pv = (p - r.center).dot(v);
      inside += pv >= band0 && pv <= band1;
    }
    if (inside < 0.8 * c.points.size()) continue;
    const Extent ce = extent(c.points, r.center, u, v);
    const float gap = std::max({0.f, ce.u0 - e.u1, e.u0 - ce.u1});
    if (gap <= thickness) {
      keep.push_back(i);
    } else if (gap <= 2 * thickness) {
      // A longer gap only where the network still sees the window through it.
      const float g0 = std::min(e.u1, ce.u1), g1 = std::max(e.u0, ce.u0);
      if (mean_in_rectangle(probability, r.center, u, v, {g0, g1, e.v0, e.v1}) >= kGapEvidence) keep.push_back(i);
    }
  }
  return paint(mask, labels, keep);
}

}  // namespace

cv::Mat largest_component(const cv::Mat& mask) {
  cv::Mat labels, stats, centroids;
  int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  if (n <= 2) return mask.clone();  // background plus at most one region
  int best = 1;
  for (int i = 2; i < n; ++i)
    if (stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA)) best = i;
  return paint(mask, labels, {best});
}

cv::Mat keep_regions(const cv::Mat& mask, const cv::Mat& probability, Region region) {
  switch (region) {
    case Region::kLargest: return largest_component(mask);
    case Region::kWindow: return select_window(mask, probability);
    case Region::kAll: break;
  }
  return mask.clone();
}

cv::Mat restrict_to(const cv::Mat& mask, const cv::Mat& kept) {
  cv::Mat near, up;
  cv::dilate(kept, near, cv::getStructuringElement(cv::MORPH_RECT, {3, 3}));
  cv::resize(near, up, mask.size(), 0, 0, cv::INTER_NEAREST);
  cv::Mat out = cv::Mat::zeros(mask.size(), mask.type());
  mask.copyTo(out, up);
  return out;
}

}  // namespace wms::nn
