// Where training reports its progress: one record per epoch. The registry implements
// this interface later; JsonlSink appends JSON lines to a file in the run folder.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace wms::train {

struct EpochMetrics {
  int epoch = 0;
  double train_loss = 0;
  double val_loss = 0;
  double val_dice = 0;
  double val_iou = 0;
  double learning_rate = 0;
  double seconds = 0;
  double images_per_second = 0;
  bool validated = true;  ///< false: no validation split (select: last); val_* are not given
  /// Hard negatives mined after this epoch (training.hard_negatives): regions found and
  /// the photos they are on; both 0 when none were mined.
  int hard_negative_regions = 0, hard_negative_photos = 0;

  nlohmann::json to_json() const;
  /// The inverse of to_json (a worker's epochs, read by its controller).
  static EpochMetrics from_json(const nlohmann::json& j);
};

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void epoch(const EpochMetrics& m) = 0;
};

/// Appends each epoch as one JSON line (durably) to a file.
class JsonlSink : public MetricsSink {
 public:
  explicit JsonlSink(std::filesystem::path path) : path_(std::move(path)) {}
  void epoch(const EpochMetrics& m) override;

 private:
  std::filesystem::path path_;
};

}  // namespace wms::train
