#include "wms/train/config.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
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
  EXPECT_EQ(o.loss, Loss::kBce);
  EXPECT_EQ(o.scheduler, Scheduler::kPlateau);
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
  check("training: {hard_negatives: 0.2}", "training.hard_negatives");  // no crops to place
  check("training: {crop_size: 64, crop_foreground: 0.9, hard_negatives: 0.2}", "training.hard_negatives");
  check("augmentation: {scale_low: 1.5, scale_high: 1.2}", "augmentation.scale_low");
  check("augmentation: {rotation_degrees: 400}", "augmentation.rotation_degrees");
  check("training: {warm_start: {epochs: -1}}", "training.warm_start.epochs");
  check("model: {scales: [1.0, 8]}", "model.scales");
  check("model: {scales: []}", "model.scales");
  check("training: {select: first}", "training.select");
  check("training: {select: last, scheduler: {kind: plateau}}", "training.scheduler.kind");
  check("model: {largest_component: true}", "model.largest_component");  // renamed to model.region
  check("training: {select: last, early_stopping_patience: 3, scheduler: {kind: onecycle}}",
        "training.early_stopping_patience");
}

TEST(TrainConfig, EveryShippedPresetPassesValidation) {
  for (const auto& name : preset_names()) EXPECT_NO_THROW(train_options(load_train_config(name))) << name;
  auto o = train_options(load_train_config("water-meters"));
  EXPECT_EQ(o.select, Select::kLast);
  EXPECT_EQ(o.scheduler, Scheduler::kOneCycle);
  EXPECT_EQ(o.warm_epochs, 20) << "README's warm-start table measures these";
  EXPECT_DOUBLE_EQ(o.warm_learning_rate, 1e-3);
}

TEST(TrainConfig, UnknownPresetOrFileIsNotFound) {
  EXPECT_THROW(load_train_config("no-such-preset"), NotFound);
  EXPECT_FALSE(preset_names().empty());
}

// The dotted keys a source file reads with get_*("...") — outside an options table.
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
// to_json of the options): each row of the options table must change the recorded
// params when its value changes, and no code reads a training key around the table.
TEST(TrainConfig, EveryOptionThatShapesARunIsRecorded) {
  std::set<std::string> keys;
  for (const auto& row : train_option_table().rows()) keys.insert(row.key);
  ASSERT_GE(keys.size(), 38u);
  EXPECT_TRUE(keys.count("augmentation.brightness_low"));
  for (const char* file : {"src/wms/train/config.cpp", "src/wms/image/augment.cpp", "src/wms/train/trainer.cpp"})
    for (const auto& k : keys_read_in(file)) ADD_FAILURE() << file << " reads " << k << " around the options table";
  const nlohmann::json base = to_json(train_options(util::Config()));
  const std::vector<std::string> values = {"0.37",     "0.05",     "48",       "0",    "true", "false",       "cosine",
                                           "onecycle", "bce_dice", "val_dice", "fp32", "bf16", "[0.75, 1.0]", "1.5",
                                           "window"};
  // Options valid only with another (hard negatives are placed by crops): the companion
  // key's line, under the same parent, in both the base and the changed config.
  const std::map<std::string, std::string> companion = {{"training.hard_negatives", "  crop_size: 64\n"}};
  for (const auto& key : keys) {
    bool recorded = false, accepted = false;
    const std::string extra = companion.count(key) ? companion.at(key) : "";
    const nlohmann::json key_base =
        extra.empty() ? base : to_json(train_options(util::Config::parse("training:\n" + extra, "test")));
    for (const auto& v : values) {
      try {
        auto params = to_json(train_options(util::Config::parse(nested_yaml(key, v) + extra, "test")));
        accepted = true;
        if (params != key_base) {
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

// `wms init` writes every option commented out at its default: uncommented, the text
// is a config that reads back as the defaults, key for key.
TEST(TrainConfig, CommentedDefaultsReadBackAsTheDefaults) {
  std::string text = train_option_table().commented_yaml(TrainOptions{});
  std::string yaml;
  for (std::size_t b = 0, nl; b < text.size(); b = nl + 1) {
    nl = text.find('\n', b);
    std::string line = text.substr(b, nl - b);
    ASSERT_EQ(line.rfind("# ", 0), 0u) << line;
    yaml += line.substr(2) + "\n";
  }
  auto c = util::Config::parse(yaml, "commented defaults");
  for (const auto& row : train_option_table().rows()) EXPECT_TRUE(c.has(row.key)) << row.key;
  EXPECT_EQ(to_json(train_options(c)), to_json(TrainOptions{}));
}

}  // namespace
}  // namespace wms::train
