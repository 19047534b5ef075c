#include "wms/train/config.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <regex>
#include <set>

#include "wms/util/config.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

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

// The dotted keys a source file reads with get_*("...").
std::set<std::string> keys_read_in(const std::string& relpath) {
  std::string text = util::read_file(std::string(WMS_SOURCE_DIR) + "/" + relpath);
  std::regex get(R"re(get_(?:int|double|bool|string|double_list)\("([a-z_.]+)")re");
  std::set<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), get), end; it != end; ++it) out.insert((*it)[1]);
  return out;
}

// "a.b.c" = v as block YAML.
std::string nested_yaml(const std::string& key, const std::string& value) {
  std::string out, indent;
  std::size_t begin = 0;
  for (std::size_t dot; (dot = key.find('.', begin)) != std::string::npos; begin = dot + 1) {
    out += indent + key.substr(begin, dot - begin) + ":\n";
    indent += "  ";
  }
  return out + indent + key.substr(begin) + ": " + value + "\n";
}

// Every option that shapes a run is recorded in params.json and the registry (the
// to_json of the options): each key that train_options() reads, found in its source,
// must change the recorded params when it changes.
TEST(TrainConfig, EveryOptionThatShapesARunIsRecorded) {
  std::set<std::string> keys = keys_read_in("src/wms/train/config.cpp");
  for (const auto& k : keys_read_in("src/wms/image/augment.cpp")) keys.insert(k);
  ASSERT_GE(keys.size(), 35u) << "the source scan found too few keys";
  EXPECT_TRUE(keys.count("augmentation.brightness_low"));
  const nlohmann::json base = to_json(train_options(util::Config()));
  const std::vector<std::string> values = {"0.37", "0.05", "48", "0", "true", "false", "cosine", "onecycle", "bce_dice",
                                           "val_dice", "fp32", "bf16", "[0.75, 1.0]", "1.5"};
  for (const auto& key : keys) {
    bool recorded = false, accepted = false;
    for (const auto& v : values) {
      try {
        auto params = to_json(train_options(util::Config::parse(nested_yaml(key, v), "test")));
        accepted = true;
        if (params != base) {
          recorded = true;
          break;
        }
      } catch (const InvalidInput&) {
        // not a valid value for this key: try the next
      }
    }
    EXPECT_TRUE(accepted) << key << ": no test value is valid for it; add one to the list";
    EXPECT_TRUE(recorded) << key << " shapes a run but is not recorded in its params";
  }
}

}  // namespace
}  // namespace wms::train
