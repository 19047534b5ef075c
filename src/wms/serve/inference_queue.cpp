#include "wms/serve/inference_queue.hpp"

#include <vector>

#include "wms/util/error.hpp"
#include "wms/util/parallel.hpp"

namespace wms::serve {

void InferenceQueue::start() {
  std::lock_guard lock(mu_);
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void InferenceQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

train::Prediction InferenceQueue::infer(const std::shared_ptr<train::Predictor>& model, std::string bytes,
                                        const image::DecodeLimits& limits, cv::Mat& photo, const Admission& a) {
  auto job = std::make_shared<Job>();
  job->bytes = std::move(bytes);
  job->limits = limits;
  job->photo = photo;
  job->model = model;
  job->admission = a;
  auto result = job->done.get_future();
  {
    // Under the lock the thread cannot have left (it leaves only when stopping with an
    // empty queue), so a job queued here is always answered.
    std::lock_guard lock(mu_);
    if (stopping_ || !thread_.joinable()) throw Unavailable("the server is stopping");
    jobs_.push_back(job);
  }
  cv_.notify_one();
  auto p = result.get();
  photo = job->photo;
  return p;
}

void InferenceQueue::loop() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> batch;
    std::vector<std::shared_ptr<Job>> late, gone;
    Clock::time_point started;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      started = Clock::now();
      // Up to 8 photos of one model; what has waited past its queue timeout, or has no
      // client left, is dropped here instead of computed.
      while (!jobs_.empty() && batch.size() < 8 && (batch.empty() || jobs_.front()->model == batch[0]->model)) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        if (started > job->admission.start_by)
          late.push_back(std::move(job));
        else if (job->admission.client_gone && job->admission.client_gone())
          gone.push_back(std::move(job));
        else
          batch.push_back(std::move(job));
      }
    }
    for (auto& j : late)
      j->done.set_exception(
          std::make_exception_ptr(Unavailable("busy: this prediction did not start within its queue timeout")));
    for (auto& j : gone) j->done.set_exception(std::make_exception_ptr(ClientGone()));
    if (batch.empty()) continue;
    compute(batch);
  }
}

void InferenceQueue::compute(std::vector<std::shared_ptr<Job>>& batch) {
  // Decode on every core; a photo that cannot be decoded answers its own request.
  std::vector<std::exception_ptr> failed(batch.size());
  util::parallel_for(batch.size(), threads_, [&](std::size_t i) {
    try {
      if (batch[i]->photo.empty())
        batch[i]->photo = image::decode_image(batch[i]->bytes, "upload", batch[i]->limits).pixels;
    } catch (...) {
      failed[i] = std::current_exception();
    }
  });
  std::vector<std::shared_ptr<Job>> ok;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (failed[i])
      batch[i]->done.set_exception(failed[i]);
    else
      ok.push_back(batch[i]);
  }
  if (ok.empty()) return;
  try {
    std::vector<cv::Mat> photos;
    for (auto& j : ok) photos.push_back(j->photo);
    auto preds = ok[0]->model->predict_batch(photos);
    for (std::size_t i = 0; i < ok.size(); ++i) ok[i]->done.set_value(std::move(preds[i]));
  } catch (...) {
    for (auto& j : ok) j->done.set_exception(std::current_exception());
  }
}

}  // namespace wms::serve
