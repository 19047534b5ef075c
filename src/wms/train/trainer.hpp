// Training a U-Net on samples: Adam with weight decay, a learning-rate schedule
// (ReduceLROnPlateau on validation loss as the original, or one-cycle / cosine),
// early stopping, and the best epoch on validation kept. Deterministic for a seed,
// the same data and the same thread count.
//
// Speed: photos are decoded once (SampleCache), batches are prepared on a background
// thread while the model trains (BatchLoader), and every core runs the convolutions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wms/nn/model.hpp"
#include "wms/train/config.hpp"
#include "wms/train/samples.hpp"
#include "wms/train/sink.hpp"

namespace wms::train {

struct TrainResult {
  std::optional<nn::Model> model;  ///< weights of the best epoch (always set on return)
  std::vector<EpochMetrics> history;
  int best_epoch = 0;
  double seconds = 0;
  std::string stop_reason;  ///< "epochs" | "early_stopping" | "time_budget"
};

/// REQUIRES: train is not empty. With an empty val the last epoch is kept.
/// should_stop is polled between steps; when it returns true, throws Cancelled.
/// With `init` the weights start from that model (warm start, fine-tuning) instead of
/// a fresh initialisation; its architecture must match options.model.
TrainResult train_model(const std::vector<Sample>& train, const std::vector<Sample>& val, const TrainOptions& options,
                        MetricsSink* sink = nullptr, const std::function<bool()>& should_stop = {},
                        const nn::Model* init = nullptr);

}  // namespace wms::train
