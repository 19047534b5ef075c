// Hot reload for `wms serve`: follows the registry's production alias. Every
// `reload_seconds` it reads the alias; when it moved, the new version's bundle is
// loaded, warmed with one forward pass on the compute thread, and swapped in whole, so
// the old model answers until the new one is ready and no request fails in between.
//
// With a shared registry (PostgreSQL) the replica may run on a machine that never
// trained the model: a bundle missing from the local store is fetched from the
// workspace's default remote (S3), md5-checked before it is stored (data::Remote::pull).
// A version that cannot be fetched, verified or loaded leaves the old one serving; the
// failure is in status() (readiness details, metrics) and retried at the next check.
//
// Thread safety: current(), not_ready() and status() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
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

/// How the replica follows production.
struct FollowStatus {
  int served = 0;              ///< the version answering requests (0: none yet)
  int production = 0;          ///< where the production alias pointed at the last check (0: none)
  std::string error;           ///< why the last check failed ("" when it did not)
  std::uint64_t failures = 0;  ///< checks that failed since start
  double loaded_at = 0;        ///< unix seconds of the last swap
  bool behind() const { return production != 0 && production != served; }
};

class ModelFollower {
 public:
  /// `on_status` is called after each check (metrics).
  ModelFollower(const data::Workspace& ws, train::PredictOptions predict, double reload_seconds, InferenceQueue& queue,
                std::function<void(const FollowStatus&)> on_status);
  ~ModelFollower() { stop(); }

  void start();
  void stop();
  /// The model to answer with; null until one is loaded and warmed.
  std::shared_ptr<const ServedModel> current() const;
  /// Why there is no model yet ("loading", no production alias, the load error).
  std::string not_ready() const;
  FollowStatus status() const;
  /// Checks the alias once and swaps in a new version (throws what fetching or loading threw).
  void reload();

 private:
  void loop();
  /// The bundle in the local store, fetched from the default remote if missing there.
  void fetch(const std::string& bundle_md5, int version);

  const data::Workspace& ws_;
  train::PredictOptions predict_;
  double reload_seconds_;
  InferenceQueue& queue_;
  std::function<void(const FollowStatus&)> on_status_;
  mutable std::mutex mu_;
  std::shared_ptr<const ServedModel> served_;  // guarded by mu_; swapped whole
  std::string not_ready_ = "loading";          // guarded by mu_
  FollowStatus status_;                        // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace wms::serve
