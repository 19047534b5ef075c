// Which predicted regions a mask keeps: the post-processing after the threshold (a
// meter has one reading window, so a mask of several regions is mostly false
// positives). Masks are single-channel uint8, foreground = non-zero; probabilities
// CV_32FC1 of the same size; regions are 8-connected. Pure functions: thread-safe.
//
// Where the rule for kWindow comes from (the dev test split, 94 real photos, the
// water-meters preset's model; 82 of them have more than one region above 0.5):
// - Evidence and shape: the true windows' regions had mean probability 0.92-0.98 (5th
//   to 95th percentile) and filled 0.63-0.89 of their oriented bounding rectangle; the
//   false ones (>= 200 px: tile borders, hoses, labels) 0.64-0.92 and 0.49-0.82. Scoring
//   a region by area x mean^4 x fill instead of area alone widens the smallest margin
//   of the true window over the best false region from 1.24x to 1.83x (median 14.7x to
//   38.9x), without changing which region wins on any photo of that split.
// - Fragments: a window the network finds in pieces (a dark digit drum, a glare
//   band) was cut to its largest piece by keep-largest. The pieces that continue the
//   chosen region along its long axis are kept: at least 80% of a piece's pixels inside
//   the region's band across that axis (widened by half its thickness on each side), a
//   gap along it of at most one thickness (two: below), and at least 5% of its area.
//   On that split: id_1126 0.50 -> 0.76, id_1007 0.45 -> 0.55, id_318 0.85 -> 0.88, no
//   photo worse, mean Dice 0.9232 -> 0.9273 (band widened by a quarter). Widened by
//   half: a piece taller than the chosen one (a red digit drum found down to its edge)
//   is kept too: on two models of 2026-12-07 one photo changed, id_1126 0.505 -> 0.798.
//   A gap of one to two thicknesses is crossed only where the network still sees the
//   window through it (mean probability of the band across the gap >= 0.1; a digit
//   drum it is unsure of): on a model of 2026-12-07, the two true gaps of that length
//   (dev test id_1007, train id_1059) held 0.16 and 0.26, the false pieces in the band
//   beyond one thickness (a blob at the photo's edge, the frame's far end; train id_266,
//   id_843) 0.002-0.005; id_1007 0.45 -> 0.64, id_1059 0.57 -> 0.73, no photo worse on
//   the test, validation and train splits (970 photos).
// - Shape and place: a reading window is long and the photo is framed on the meter
//   (all 970 hand-drawn windows: oriented rectangle 3.0-8.5 times as long as thick,
//   centre within 0.34 of the photo's centre in each axis). A region squatter than 3:1
//   is scored down by (elongation / 3)^2, one centred more than 0.35 out by
//   (1 - excess / 0.15)^2. On two models of 2026-12-07 (40 and 26 epochs), dev test
//   id_358 went from 0 (a squat block of text on a roll of packaging at the photo's edge,
//   larger than the window) to 0.77 / 0.83, train id_945 and id_1137 from 0 to 0.92 and
//   0.89; no other photo of the 970 changed on either model.
#pragma once

#include <opencv2/core.hpp>

#include "wms/util/options.hpp"

namespace wms::nn {

enum class Region {
  kAll,      ///< every region above the threshold (the original)
  kLargest,  ///< the largest region only
  kWindow,   ///< the region with the most evidence, with the pieces that continue it
};
/// "all", "largest", "window" (wms.yaml's model.region, the bundle's "region", --region).
extern const util::Names<Region> kRegionNames;

/// Keeps only the largest region (ties: the first in raster order).
cv::Mat largest_component(const cv::Mat& mask);

/// The regions of `mask` that `region` keeps, judged on `probability` (kWindow: see
/// above). REQUIRES: probability is CV_32FC1 of mask's size (unused unless kWindow).
/// Returns a new mask of the same size and type (foreground = mask's maximum).
cv::Mat keep_regions(const cv::Mat& mask, const cv::Mat& probability, Region region);

/// `mask` (any size) restricted to the regions of `kept` (a smaller mask of the same
/// photo, e.g. at the model's input size): a pixel stays when it falls within one
/// pixel of `kept`'s foreground at kept's scale, so the two agree on which regions a
/// photo has whatever the resampling between them.
cv::Mat restrict_to(const cv::Mat& mask, const cv::Mat& kept);

}  // namespace wms::nn
