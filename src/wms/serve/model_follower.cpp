#include "wms/serve/model_follower.hpp"

#include <chrono>
#include <cstdio>

#include "wms/registry/promotion.hpp"
#include "wms/registry/registry.hpp"

namespace wms::serve {

ModelFollower::ModelFollower(const data::Workspace& ws, train::PredictOptions predict, double reload_seconds,
                             InferenceQueue& queue, std::function<void(int)> on_loaded)
    : ws_(ws),
      predict_(std::move(predict)),
      reload_seconds_(reload_seconds),
      queue_(queue),
      on_loaded_(std::move(on_loaded)) {}

void ModelFollower::start() {
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void ModelFollower::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const ServedModel> ModelFollower::current() const {
  std::lock_guard lock(mu_);
  return served_;
}

std::string ModelFollower::not_ready() const {
  std::lock_guard lock(mu_);
  return not_ready_;
}

void ModelFollower::reload() {
  auto reg = registry::open(ws_);
  auto v = reg.alias(registry::kProduction);
  auto cur = current();
  if (!v) {
    std::lock_guard lock(mu_);
    not_ready_ = "no production model yet (promote one with `wms models promote`)";
    return;
  }
  if (cur && cur->version == *v) return;
  auto next = std::make_shared<ServedModel>();
  next->version = *v;
  next->predictor = std::make_shared<train::Predictor>(registry::load_version(ws_, reg, *v), predict_);
  int size = next->predictor->model().info().config.input_size;
  cv::Mat grey(size, size, CV_8UC3, cv::Scalar(128, 128, 128));
  queue_.infer(next->predictor, "", {}, grey);  // warm up on the compute thread
  {
    std::lock_guard lock(mu_);
    served_ = next;
  }
  if (on_loaded_) on_loaded_(*v);
}

void ModelFollower::loop() {
  while (!stopping_) {
    try {
      reload();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "wms serve: reload failed: %s\n", e.what());
      std::lock_guard lock(mu_);
      if (!served_) not_ready_ = std::string("the production model could not be loaded: ") + e.what();
    }
    for (int i = 0; i < static_cast<int>(reload_seconds_ * 10) && !stopping_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace wms::serve
