#include "wms/train/sink.hpp"

#include "wms/util/fs.hpp"

namespace wms::train {

nlohmann::json EpochMetrics::to_json() const {
  return {{"epoch", epoch}, {"train_loss", train_loss}, {"val_loss", val_loss}, {"val_dice", val_dice},
          {"val_iou", val_iou}, {"lr", learning_rate}, {"seconds", seconds}, {"images_per_second", images_per_second}};
}

void JsonlSink::epoch(const EpochMetrics& m) { util::append_line(path_, m.to_json().dump()); }

}  // namespace wms::train
