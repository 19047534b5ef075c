// Segmentation scores of one predicted mask against the truth, as the original
// computes them: Dice and IoU with smoothing 1e-6, pixel accuracy, and the symmetric
// Hausdorff distance in pixels (both masks empty: 0; one empty: the image diagonal).
// Masks are single-channel uint8, foreground = non-zero. Thread-safe.
#pragma once

#include <opencv2/core.hpp>

#include <vector>

namespace wms::nn {

struct MaskScores {
  double dice = 0;
  double iou = 0;
  double accuracy = 0;
  double hausdorff = 0;
};

/// REQUIRES: same size. hausdorff is computed only when with_hausdorff (it costs two
/// distance transforms).
MaskScores score_masks(const cv::Mat& pred, const cv::Mat& truth, bool with_hausdorff = true);

/// Means over images.
MaskScores mean_scores(const std::vector<MaskScores>& scores);

}  // namespace wms::nn
