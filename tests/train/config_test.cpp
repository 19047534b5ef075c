#include "wms/train/config.hpp"

#include <gtest/gtest.h>

#include "wms/util/error.hpp"

namespace wms::train {
namespace {

TEST(TrainConfig, AcceptsTheOriginalTrainYamlKeys) {
  auto o = train_options(load_train_config("original"));
  EXPECT_EQ(o.model.input_size, 512);
  EXPECT_EQ(o.epochs, 100);
  EXPECT_EQ(o.batch_size, 4);
  EXPECT_DOUBLE_EQ(o.learning_rate, 1e-4);
  EXPECT_DOUBLE_EQ(o.weight_decay, 1e-4);
  EXPECT_EQ(o.early_stopping_patience, 5);
  EXPECT_DOUBLE_EQ(o.plateau_factor, 0.5);
  EXPECT_EQ(o.plateau_patience, 3);
  EXPECT_DOUBLE_EQ(o.min_lr, 1e-6);
  EXPECT_DOUBLE_EQ(o.augment.hflip, 0.5);
  EXPECT_DOUBLE_EQ(o.augment.vflip, 0.3);
  EXPECT_DOUBLE_EQ(o.augment.rotation_degrees, 10);
  EXPECT_DOUBLE_EQ(o.augment.rotation_prob, 0.5);
  EXPECT_DOUBLE_EQ(o.augment.brightness_prob, 0.3);
  EXPECT_EQ(o.loss, "bce");
  EXPECT_EQ(o.scheduler, "plateau");
  EXPECT_EQ(o.model.scales, (std::vector<double>{1.0})) << "the original predicts at one scale";
}

TEST(TrainConfig, OutOfRangeValuesNameTheKey) {
  auto check = [](const std::string& yaml, const std::string& key) {
    try {
      train_options(util::Config::parse(yaml, "train.yaml"));
      ADD_FAILURE() << yaml;
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  check("model: {input_size: 500}", "model.input_size");
  check("training: {epochs: 0}", "training.epochs");
  check("training: {learning_rate: -1}", "training.learning_rate");
  check("training: {loss: focal}", "training.loss");
  check("training: {scheduler: {kind: step}}", "training.scheduler.kind");
  check("training: {batch_size: many}", "training.batch_size");
  check("model: {input_size: 256}\ntraining: {crop_size: 512}", "training.crop_size");
  check("training: {crop_size: 100}", "training.crop_size");
  check("augmentation: {scale_low: 1.5, scale_high: 1.2}", "augmentation.scale_low");
  check("augmentation: {rotation_degrees: 400}", "augmentation.rotation_degrees");
  check("training: {warm_start: {epochs: -1}}", "training.warm_start.epochs");
  check("model: {scales: [1.0, 8]}", "model.scales");
  check("model: {scales: []}", "model.scales");
  check("training: {select: first}", "training.select");
  check("training: {select: last, scheduler: {kind: plateau}}", "training.scheduler.kind");
  check("training: {select: last, early_stopping_patience: 3, scheduler: {kind: onecycle}}",
        "training.early_stopping_patience");
}

TEST(TrainConfig, EveryShippedPresetPassesValidation) {
  for (const auto& name : preset_names()) EXPECT_NO_THROW(train_options(load_train_config(name))) << name;
  auto o = train_options(load_train_config("water-meters"));
  EXPECT_EQ(o.select, "last");
  EXPECT_EQ(o.scheduler, "onecycle");
  EXPECT_EQ(o.warm_epochs, 20) << "README's warm-start table measures these";
  EXPECT_DOUBLE_EQ(o.warm_learning_rate, 1e-3);
}

TEST(TrainConfig, UnknownPresetOrFileIsNotFound) {
  EXPECT_THROW(load_train_config("no-such-preset"), NotFound);
  EXPECT_FALSE(preset_names().empty());
}

}  // namespace
}  // namespace wms::train
