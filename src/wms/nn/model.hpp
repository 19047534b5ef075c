// A segmentation model and its bundle file: weights plus everything needed to use
// them (architecture, input size, preprocessing, threshold, the dataset version it was
// trained on, its metrics, seed, creation time, wms version).
//
// Bundle format (version 1), one file, little-endian:
//   "WMSMODEL" | u32 format=1 | u64 n | n bytes of JSON (ModelInfo) | u64 m |
//   m bytes: the weights as a PyTorch state_dict file (torch.save format) |
//   32 bytes: sha256 of everything before
// so a truncated, corrupted or foreign file is refused with a clear error, and the
// weights inside are readable by PyTorch as they are.
//
// Torch stays out of this header (pimpl). Copies of a Model share its weights; a
// Model may be used for inference by one thread at a time (train/ serialises access).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wms/nn/regions.hpp"

namespace wms::nn {

struct ModelConfig {
  int in_channels = 3;
  int base_filters = 16;  ///< 16 = the original's 1,965,569 parameters
  int out_channels = 1;
  int input_size = 512;    ///< photos are resized to input_size x input_size
  double threshold = 0.5;  ///< foreground when sigmoid(logit) > threshold
  /// Test-time flip: the probability is the mean of the photo's and its mirror
  /// image's (twice the inference cost). Part of the model, so that predict, eval,
  /// the gate and the server all see the same masks.
  bool flip_average = false;
  /// Views of the photo at these multiples of input_size (each rounded to a multiple
  /// of 16): the probabilities of each view are resized back to input_size and the
  /// views combined by maximum, so a pixel is foreground when any scale finds it (a
  /// small, distant meter is found in the larger view). {1.0}: one view.
  std::vector<double> scales = {1.0};
  /// The views after the first are computed only for photos whose first view finds a
  /// small window or none: fewer than this share of the view's pixels above threshold
  /// (0.02 = 2% of the photo). 1: every photo gets every view. The larger view is what
  /// finds small, distant meters; on the dev test split its gains were all on windows
  /// under ~2-3% of the photo, so the others keep their first view's mask and cost one
  /// view.
  double extra_scales_window_below = 1.0;
  /// Which regions above the threshold the mask keeps (nn/regions.hpp): all (the
  /// original), the largest, or the window (the most evidence, with its pieces).
  Region region = Region::kAll;
};

/// Throws InvalidInput naming the field and the rule.
void validate(const ModelConfig& config);
/// The side of the view at `scale` (input_size * scale rounded to a multiple of 16).
int view_size(const ModelConfig& config, double scale);

struct ModelInfo {
  ModelConfig config;
  std::string architecture = "unet";
  std::string preprocessing = "rgb|resize-area|stretch-p2-p98|median3|scale-1/255";
  std::string dataset_version;  ///< what it was trained on ("" if unknown)
  std::uint64_t seed = 0;
  std::string created;  ///< UTC ISO 8601
  std::string wms_version;
  nlohmann::json metrics = nlohmann::json::object();  ///< e.g. {"val_dice": .., "test_dice": ..}
  nlohmann::json params = nlohmann::json::object();   ///< training parameters

  nlohmann::json to_json() const;
  static ModelInfo from_json(const nlohmann::json& j, const std::string& source);
};

class Model {
 public:
  /// Fresh weights, initialised from `seed` (PyTorch's default initialisation).
  explicit Model(const ModelConfig& config, std::uint64_t seed = 0);

  /// Reads a bundle. Throws NotFound, Corrupt (damaged / truncated / foreign file).
  static Model load(const std::filesystem::path& bundle);
  static Model from_bytes(std::string_view bytes, const std::string& source);
  /// Writes the bundle atomically.
  void save(const std::filesystem::path& bundle) const;
  std::string to_bytes() const;

  /// A PyTorch state_dict file (e.g. the original's production.pth) as a Model.
  static Model import_state_dict(const std::filesystem::path& pth, const ModelConfig& config);
  /// Writes the weights as a state_dict that PyTorch loads into WaterMetersUNet.
  void export_state_dict(const std::filesystem::path& pth) const;

  /// A deep copy (own weights).
  Model clone() const;

  ModelInfo& info();
  const ModelInfo& info() const;
  std::int64_t parameter_count() const;

  struct Impl;  // defined in nn/model_impl.hpp (torch)
  Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

/// True when the file starts like a bundle (used to tell bundles from .pth files).
bool looks_like_bundle(std::string_view head);

}  // namespace wms::nn
