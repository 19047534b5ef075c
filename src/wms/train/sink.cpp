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
  if (hard_negative_regions > 0) {
    j["hard_negative_regions"] = hard_negative_regions;
    j["hard_negative_photos"] = hard_negative_photos;
  }
  return j;
}

EpochMetrics EpochMetrics::from_json(const nlohmann::json& j) {
  EpochMetrics m;
  m.epoch = j.value("epoch", 0);
  m.train_loss = j.value("train_loss", 0.0);
  m.learning_rate = j.value("lr", 0.0);
  m.seconds = j.value("seconds", 0.0);
  m.images_per_second = j.value("images_per_second", 0.0);
  m.validated = j.contains("val_loss");
  m.val_loss = j.value("val_loss", 0.0);
  m.val_dice = j.value("val_dice", 0.0);
  m.val_iou = j.value("val_iou", 0.0);
  m.hard_negative_regions = j.value("hard_negative_regions", 0);
  m.hard_negative_photos = j.value("hard_negative_photos", 0);
  return m;
}

void JsonlSink::epoch(const EpochMetrics& m) {
  util::append_line(path_, m.to_json().dump());
}

}  // namespace wms::train
