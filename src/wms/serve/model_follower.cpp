#include "wms/serve/model_follower.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "wms/data/remote.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/registry/registry.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"

namespace wms::serve {

ModelFollower::ModelFollower(const data::Workspace& ws, train::PredictOptions predict, double reload_seconds,
                             InferenceQueue& queue, std::function<void(const FollowStatus&)> on_status)
    : ws_(ws),
      predict_(std::move(predict)),
      reload_seconds_(reload_seconds),
      queue_(queue),
      on_status_(std::move(on_status)) {}

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

FollowStatus ModelFollower::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void ModelFollower::fetch(const std::string& bundle_md5, int version) {
  if (ws_.store().has(bundle_md5)) return;
  if (data::default_remote_name(ws_.config()).empty())
    throw NotFound(
        "model version {}: bundle {} is not in this workspace's store and no default remote is set to "
        "fetch it from (wms remote add NAME s3://BUCKET/PREFIX --default)",
        version, bundle_md5);
  data::Remote remote(ws_, data::remote_config(ws_.config()));
  auto s = remote.pull({}, {bundle_md5});
  if (!s.ok())
    throw NotFound("model version {}: cannot fetch bundle {} from {}: {}", version, bundle_md5, remote.config().label(),
                   !s.corrupt.empty() ? "corrupt: " + s.corrupt.front() : "not there");
  std::fprintf(stderr, "wms serve: fetched model version %d from %s (%s)\n", version, remote.config().label().c_str(),
               s.text("pulled").c_str());
}

void ModelFollower::reload() {
  auto reg = registry::open(ws_);
  auto v = reg.alias(registry::kProduction);
  {
    std::lock_guard lock(mu_);
    status_.production = v.value_or(0);
    if (!v) not_ready_ = "no production model yet (promote one with `wms models promote`)";
  }
  auto cur = current();
  if (!v || (cur && cur->version == *v)) return;
  auto m = reg.find_model(*v);
  if (!m) throw NotFound("production points at model version {}, which the registry does not have", *v);
  fetch(m->bundle_md5, *v);
  auto next = std::make_shared<ServedModel>();
  next->version = *v;
  next->predictor = std::make_shared<train::Predictor>(registry::load_version(ws_, reg, *v), predict_);
  int size = next->predictor->model().info().config.input_size;
  cv::Mat grey(size, size, CV_8UC3, cv::Scalar(128, 128, 128));
  queue_.infer(next->predictor, "", {}, grey);  // warm up on the compute thread
  std::lock_guard lock(mu_);
  served_ = next;
  status_.served = *v;
  status_.loaded_at = util::now_seconds();
}

void ModelFollower::loop() {
  while (!stopping_) {
    try {
      reload();
      std::lock_guard lock(mu_);
      status_.error.clear();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "wms serve: reload failed: %s\n", e.what());
      std::lock_guard lock(mu_);
      status_.error = e.what();
      ++status_.failures;
      if (!served_) not_ready_ = std::string("the production model could not be loaded: ") + e.what();
    }
    if (on_status_) on_status_(status());
    for (int i = 0; i < static_cast<int>(reload_seconds_ * 10) && !stopping_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace wms::serve
