// Scoring a model on samples: per-image Dice, IoU, pixel accuracy and Hausdorff,
// measured the original's way (prediction thresholded at the model's threshold,
// mask and prediction at the input size) and at each photo's own resolution (what a
// user of the masks gets). The same code scores candidate and production in the gate.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "wms/nn/metrics.hpp"
#include "wms/nn/model.hpp"
#include "wms/train/runtime.hpp"
#include "wms/train/samples.hpp"

namespace wms::train {

/// The photos and masks a run scores more than once (the gate: the candidate of each
/// attempt and production on the same test split), decoded once: the first
/// evaluate() that is given this decodes and keeps each pair (photo with EXIF applied,
/// mask binarised 0/255 at its own size) while the total stays under `budget_bytes`;
/// the later ones read them from here. Pairs past the budget are decoded again each
/// time (a run over thousands of full-size photos does not hold them all). Keyed by
/// the photo's path and content hash. Thread-safe.
class DecodedPhotos {
 public:
  explicit DecodedPhotos(std::size_t budget_bytes = std::size_t{1} << 30) : budget_(budget_bytes) {}
  struct Pair {
    cv::Mat photo;  ///< as image::decode_image gives it (CV_8UC3)
    cv::Mat truth;  ///< CV_8UC1 0/255
  };
  /// The decoded pair of `s`, decoded now unless kept. Throws as image::decode_image
  /// and decode_mask (naming the file).
  std::shared_ptr<const Pair> get(const Sample& s);
  std::size_t decoded() const;  ///< how many times a file pair was decoded (for tests)
  std::size_t bytes() const;    ///< what is kept

 private:
  mutable std::mutex mu_;
  std::size_t budget_, bytes_ = 0, decoded_ = 0;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const Pair>> kept_;
};

struct EvalOptions {
  Device device = Device::kAuto;
  unsigned threads = 0;
  int batch = 8;                ///< photos per forward pass
  bool full_resolution = true;  ///< also score at each photo's own size
  /// The original's way scores at 512 x 512: the prediction (upsampled from the model's
  /// input size if it differs) against the mask resized nearest. 0 = the input size.
  int score_size = 512;
  Precision precision = Precision::kAuto;  ///< of the forward pass
  /// Shared by the evaluations of one run so that each photo is decoded once (the
  /// caller keeps it alive); null: decode for this evaluation only.
  DecodedPhotos* photos = nullptr;
};

struct ImageScores {
  std::string stem;
  std::string split;
  nn::MaskScores at_input;  ///< the original's way: at score_size x score_size
  nn::MaskScores at_full;   ///< at the photo's resolution (if full_resolution)
};

struct EvalResult {
  std::vector<ImageScores> images;
  nn::MaskScores mean_input;  ///< at score_size
  nn::MaskScores mean_full;
  int score_size = 0;
  double seconds = 0;
  /// Photos that were also looked at in model.scales' other views (all of them unless
  /// model.extra_scales_window_below spared those with a large enough window).
  std::size_t extra_views = 0;

  nlohmann::json to_json(bool per_image = true) const;
  /// One line per image: stem,split,dice,iou,accuracy,hausdorff,dice_full,iou_full,...
  std::string to_csv() const;
};

EvalResult evaluate(const nn::Model& model, const std::vector<Sample>& samples, const EvalOptions& options = {});

/// The `n` photos of `result` with the lowest Dice (at full resolution when scored
/// there, else at score_size; ties by stem), predicted again with the same options and
/// written to `dir` as JPEG overlays of prediction vs mask (comparison_overlay():
/// green = both, red = predicted only, blue = missed), named "<rank>-<stem>.jpg" with
/// '/' in nested stems replaced by "__". `samples` are those `result` scored, in
/// order. Returns the files written, worst first. Throws IoError (dir), Corrupt (a
/// photo). Not thread-safe with other predictions on `model`.
std::vector<fs::path> write_worst(const nn::Model& model, const std::vector<Sample>& samples, const EvalResult& result,
                                  std::size_t n, const fs::path& dir, const EvalOptions& options = {});

}  // namespace wms::train
