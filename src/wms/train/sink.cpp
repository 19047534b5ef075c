#include "wms/train/sink.hpp"

#include "wms/util/fs.hpp"

namespace wms::train {

nlohmann::json EpochMetrics::to_json() const {
  nlohmann::json j = {{"epoch", epoch},
                      {"train_loss", train_loss},
                      {"lr", learning_rate},
                      {"seconds", seconds},
                      {"images_per_second", images_per_second}};
  if (validated) {
    j["val_loss"] = val_loss;
    j["val_dice"] = val_dice;
    j["val_iou"] = val_iou;
  }
  return j;
}

void JsonlSink::epoch(const EpochMetrics& m) {
  util::append_line(path_, m.to_json().dump());
}

}  // namespace wms::train
