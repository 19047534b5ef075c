// One training run, the use case behind `wms train` and the pipeline's train job.
//
// In a workspace, everything is recorded: a registry run (params, per-epoch metrics,
// status), a run folder (.wms/runs/<run-id>/: params.json, metrics.jsonl,
// summary.json, curves.svg, model.wms), test-split scores, and a registered model
// version. Outside one (a folder of photos, `wms train --out`), the bundle is written
// where asked and nothing else.
//
// Thread safety: one call per registry connection; calls may run in parallel.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "wms/data/workspace.hpp"
#include "wms/nn/model.hpp"
#include "wms/registry/registry.hpp"
#include "wms/train/config.hpp"
#include "wms/train/evaluator.hpp"
#include "wms/train/samples.hpp"
#include "wms/train/trainer.hpp"

namespace wms::pipeline {

namespace fs = std::filesystem;

/// Where a training runs: train::train_model's signature. Empty: here, in this process.
using Trainer = std::function<train::TrainResult(
    const std::vector<train::Sample>& train, const std::vector<train::Sample>& val, const train::TrainOptions& options,
    train::MetricsSink* sink, const std::function<bool()>& should_stop, const nn::Model* init)>;

struct TrackedRequest {
  std::vector<train::Sample> samples;  ///< all splits; train/val/test are taken from them
  std::string dataset_version;         ///< "" for a plain folder
  train::TrainOptions options;
  std::string parent_run;           ///< e.g. the pipeline run
  const nn::Model* init = nullptr;  ///< warm start
  std::string init_label;           ///< how init was named (recorded as a tag)
  std::function<bool()> should_stop;
  /// Each epoch's line and notes go here (stderr for the CLI, a job log for the pipeline).
  std::function<void(const std::string&)> log;
  /// Empty: train here; else e.g. a worker on a leased machine (pipeline/worker.hpp).
  Trainer trainer;
  /// The test photos decoded once for the whole run (the gate scores them again); null:
  /// decoded for this training's test scores only.
  train::DecodedPhotos* test_photos = nullptr;
};

struct TrackedResult {
  std::string run_id;
  fs::path run_dir;
  fs::path bundle;
  int model_version = 0;
  nlohmann::json summary;  ///< what `wms train --json` prints
  std::optional<nn::Model> model;
  /// The model's scores on the test split (absent when it is empty), from the same
  /// evaluate() and options the gate uses: the gate takes them instead of scoring again.
  std::optional<train::EvalResult> test_eval;
};

/// REQUIRES: the train split is not empty. Records status failure/cancelled (and
/// rethrows) when training fails or is interrupted.
TrackedResult train_tracked(const data::Workspace& ws, registry::Registry& reg, const TrackedRequest& request);

/// Trains without a workspace and writes the bundle to `bundle` (atomically). The
/// result has no run, no version and no test scores; its summary has bundle,
/// epochs_run, best_epoch, stop_reason, seconds and metrics. REQUIRES: a train split.
TrackedResult train_to_file(const TrackedRequest& request, const fs::path& bundle);

}  // namespace wms::pipeline
