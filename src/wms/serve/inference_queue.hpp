// The one compute thread of `wms serve`: every prediction's CPU work (decoding the
// upload, the forward pass) runs here, micro-batched.
//
// Why one thread: HTTP workers decoding while the model's OpenMP team runs make its
// threads wait on each other at every barrier (measured with 8 clients: 11.6 req/s that
// way, against 16.6 for one client). Requests queue here and are taken in order, up to
// 8 photos of the same model per forward pass; decoding uses every core in turn.
//
// Thread safety: infer() may be called from any number of threads; start() and stop()
// from the owner.
#pragma once

#include <opencv2/core.hpp>

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "wms/image/decode.hpp"
#include "wms/train/predictor.hpp"

namespace wms::serve {

class InferenceQueue {
 public:
  /// `threads`: cores for decoding (0: every core); the forward pass uses the predictor's.
  explicit InferenceQueue(unsigned threads) : threads_(threads) {}
  ~InferenceQueue() { stop(); }

  void start();
  /// Answers what is queued, then joins the thread. Later infer() calls throw Unavailable.
  void stop();

  /// Decodes `bytes` (under `limits`) unless `photo` is given, predicts with `model` and
  /// returns the mask; `photo` is set to the decoded photo (the overlay needs it). Blocks
  /// until done. Throws what decoding or the model threw (image::ImageError for a bad
  /// upload), or Unavailable once stopping.
  train::Prediction infer(const std::shared_ptr<train::Predictor>& model, std::string bytes,
                          const image::DecodeLimits& limits, cv::Mat& photo);

 private:
  struct Job {
    std::string bytes;
    image::DecodeLimits limits;
    cv::Mat photo;
    std::shared_ptr<train::Predictor> model;
    std::promise<train::Prediction> done;
  };
  void loop();

  unsigned threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> jobs_;  // guarded by mu_
  bool stopping_ = false;                  // guarded by mu_
  std::thread thread_;
};

}  // namespace wms::serve
