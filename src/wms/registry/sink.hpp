// Training metrics into the registry: each epoch becomes one step of the run's series
// (train_loss, val_loss, val_dice, val_iou, lr, seconds, images_per_second).
#pragma once

#include <string>

#include "wms/registry/registry.hpp"
#include "wms/train/sink.hpp"

namespace wms::registry {

class RegistrySink : public train::MetricsSink {
 public:
  RegistrySink(Registry& registry, std::string run_id) : registry_(registry), run_(std::move(run_id)) {}
  void epoch(const train::EpochMetrics& m) override {
    auto j = m.to_json();
    j.erase("epoch");
    registry_.log_metrics(run_, m.epoch, j);
  }

 private:
  Registry& registry_;
  std::string run_;
};

}  // namespace wms::registry
