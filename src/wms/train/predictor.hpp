// Masks for photos: the function behind `wms predict`, evaluation and the HTTP API.
//
// photo (displayed frame, EXIF applied) -> the model's preprocessing at its input size
// (and at each other size in model.scales, for the photos whose first view finds a
// window smaller than model.extra_scales_window_below, or none) -> forward pass (inference mode; with the mirror image
// too when the model says flip_average) -> probabilities at input size (the maximum
// over the scales) -> resized (bilinear) to the photo's own size ->
// threshold -> the regions model.region keeps, chosen at input size (nn/regions.hpp) -> mask 0/255, plus bounding box, area and mean confidence.
// The network runs frozen (nn::FoldedUNet: BatchNorm folded into the convolutions,
// weights cast once, bf16 from input to logits where the CPU has it): a Predictor is a
// snapshot of the model's weights when it was made.
// Thread-safe: forward passes on one Predictor are serialised.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wms/image/decode.hpp"
#include "wms/nn/model.hpp"
#include "wms/train/runtime.hpp"

namespace wms::train {

struct PredictOptions {
  Device device = Device::kAuto;
  unsigned threads = 0;  ///< 0: every core
  /// fp32 | bf16 | auto (bf16 where the CPU has it natively: measured on the real test split,
  /// it changes mean Dice by less than 0.001 and halves inference time).
  Precision precision = Precision::kAuto;
};

struct Prediction {
  cv::Mat mask;                ///< CV_8UC1 0/255 at the photo's size
  cv::Mat probability;         ///< CV_32FC1 at the model's input size
  cv::Rect bbox;               ///< of the mask; empty when nothing was found
  std::int64_t area = 0;       ///< foreground pixels of the mask
  double mean_confidence = 0;  ///< mean probability over the predicted foreground (input size)
  int views = 0;               ///< scales looked at: 1, or all of model.scales (extra_scales_window_below)
  double ms_preprocess = 0, ms_inference = 0, ms_postprocess = 0;
};

class Predictor {
 public:
  explicit Predictor(nn::Model model, PredictOptions options = {});
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  /// One photo (BGR, displayed frame).
  Prediction predict(const cv::Mat& bgr);
  /// Encoded bytes (JPEG/PNG): decoded with EXIF orientation and the given limits.
  Prediction predict_bytes(std::string_view bytes, const std::string& name, const image::DecodeLimits& limits = {});
  /// Several photos in one forward pass.
  std::vector<Prediction> predict_batch(const std::vector<cv::Mat>& bgr);

  const nn::Model& model() const { return model_; }

 private:
  struct State;
  nn::Model model_;
  PredictOptions options_;
  std::unique_ptr<State> state_;
};

/// The photo with the mask drawn over it (tinted region and outline), for people.
cv::Mat overlay(const cv::Mat& bgr, const cv::Mat& mask);
/// The photo with a predicted mask and the true one over it, for people finding where
/// a model fails: tinted green where both say window, red where only the prediction
/// does (false positive), blue where only the truth does (missed); the true window's
/// outline in white. `predicted` and `truth`: CV_8UC1 0/255 at the photo's size.
cv::Mat comparison_overlay(const cv::Mat& bgr, const cv::Mat& predicted, const cv::Mat& truth);

}  // namespace wms::train
