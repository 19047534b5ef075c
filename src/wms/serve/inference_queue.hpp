// The one compute thread of `wms serve`: every prediction's CPU work (decoding the
// upload, the forward pass) runs here, micro-batched.
//
// Why one thread: HTTP workers decoding while the model's OpenMP team runs make its
// threads wait on each other at every barrier (measured with 8 clients: 11.6 req/s that
// way, against 16.6 for one client). Requests queue here and are taken in order, up to
// 8 photos of the same model per forward pass; decoding uses every core in turn.
//
// Overload: a prediction whose batch has not started by its time (`start_by`) is not
// computed: at its turn it is dropped (infer() throws Unavailable: 503 + Retry-After), as
// is one whose client has closed the connection (throws ClientGone). So under any load
// the compute thread works only on answers that can still be delivered, its batches stay
// full, and an answer comes at most one batch after its time (the queue policy of
// Triton's dynamic batcher, a timeout per request in the queue; the bound on the queue
// is the caller's).
//
// Thread safety: infer() may be called from any number of threads; start() and stop()
// from the owner.
#pragma once

#include <opencv2/core.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "wms/image/decode.hpp"
#include "wms/train/predictor.hpp"

namespace wms::serve {

/// Thrown by InferenceQueue::infer() for a prediction dropped because its client closed
/// the connection before its turn (nginx logs such a request as 499).
struct ClientGone : std::runtime_error {
  ClientGone() : std::runtime_error("the client closed the connection before its prediction started") {}
};

/// When a prediction's batch must have started (time_point::max(): it may wait for ever),
/// and how to tell that its client has gone (empty: it never goes).
struct QueueAdmission {
  std::chrono::steady_clock::time_point start_by = std::chrono::steady_clock::time_point::max();
  std::function<bool()> client_gone;
};

class InferenceQueue {
 public:
  /// `threads`: cores for decoding (0: every core); the forward pass uses the predictor's.
  explicit InferenceQueue(unsigned threads) : threads_(threads) {}
  ~InferenceQueue() { stop(); }

  void start();
  /// Answers what is queued, then joins the thread. Later infer() calls throw Unavailable.
  void stop();

  using Clock = std::chrono::steady_clock;
  using Admission = QueueAdmission;

  /// Decodes `bytes` (under `limits`) unless `photo` is given, predicts with `model` and
  /// returns the mask; `photo` is set to the decoded photo (the overlay needs it). Blocks
  /// until done. Throws what decoding or the model threw (image::ImageError for a bad
  /// upload); Unavailable once stopping, or when its batch had not started by
  /// `a.start_by`; ClientGone when `a.client_gone()` was true at its turn.
  train::Prediction infer(const std::shared_ptr<train::Predictor>& model, std::string bytes,
                          const image::DecodeLimits& limits, cv::Mat& photo, const Admission& a = {});

 private:
  struct Job {
    std::string bytes;
    image::DecodeLimits limits;
    cv::Mat photo;
    std::shared_ptr<train::Predictor> model;
    Admission admission;
    std::promise<train::Prediction> done;
  };
  void loop();
  /// Decodes and predicts one batch, answering each job.
  void compute(std::vector<std::shared_ptr<Job>>& batch);

  unsigned threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> jobs_;  // guarded by mu_
  bool stopping_ = false;                  // guarded by mu_
  std::thread thread_;
};

}  // namespace wms::serve
