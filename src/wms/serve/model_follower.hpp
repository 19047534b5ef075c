// Hot reload for `wms serve`: follows the registry's production alias. Every
// `reload_seconds` it reads the alias; when it moved, the new version's bundle is
// loaded, warmed with one forward pass on the compute thread, and swapped in whole, so
// the old model answers until the new one is ready and no request fails in between.
//
// Thread safety: current() and not_ready() may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "wms/data/workspace.hpp"
#include "wms/serve/inference_queue.hpp"
#include "wms/train/predictor.hpp"

namespace wms::serve {

/// A model being served: its registry version and its predictor.
struct ServedModel {
  int version = 0;
  std::shared_ptr<train::Predictor> predictor;
};

class ModelFollower {
 public:
  /// `on_loaded(version)` is called after each swap (metrics).
  ModelFollower(const data::Workspace& ws, train::PredictOptions predict, double reload_seconds, InferenceQueue& queue,
                std::function<void(int version)> on_loaded);
  ~ModelFollower() { stop(); }

  void start();
  void stop();
  /// The model to answer with; null until one is loaded and warmed.
  std::shared_ptr<const ServedModel> current() const;
  /// Why there is no model yet ("loading", no production alias, the load error).
  std::string not_ready() const;
  /// Checks the alias once and swaps in a new version (throws what loading threw).
  void reload();

 private:
  void loop();

  const data::Workspace& ws_;
  train::PredictOptions predict_;
  double reload_seconds_;
  InferenceQueue& queue_;
  std::function<void(int)> on_loaded_;
  mutable std::mutex mu_;
  std::shared_ptr<const ServedModel> served_;  // guarded by mu_; swapped whole
  std::string not_ready_ = "loading";          // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace wms::serve
