#include "wms/train/config.hpp"

#include <filesystem>

#include "wms/train/presets.hpp"
#include "wms/util/error.hpp"

namespace wms::train {

TrainOptions train_options(const util::Config& c) {
  TrainOptions o;
  o.model.input_size = static_cast<int>(c.get_int("model.input_size", o.model.input_size));
  o.model.base_filters = static_cast<int>(c.get_int("model.base_filters", o.model.base_filters));
  o.model.threshold = c.get_double("model.threshold", o.model.threshold);
  o.model.flip_average = c.get_bool("model.flip_average", o.model.flip_average);
  o.model.scales = c.get_double_list("model.scales", o.model.scales);
  o.model.largest_component = c.get_bool("model.largest_component", o.model.largest_component);
  o.epochs = static_cast<int>(c.get_int("training.epochs", o.epochs));
  o.batch_size = static_cast<int>(c.get_int("training.batch_size", o.batch_size));
  o.learning_rate = c.get_double("training.learning_rate", o.learning_rate);
  o.weight_decay = c.get_double("training.weight_decay", o.weight_decay);
  o.early_stopping_patience = static_cast<int>(c.get_int("training.early_stopping_patience", o.early_stopping_patience));
  o.scheduler = c.get_string("training.scheduler.kind", o.scheduler);
  o.plateau_factor = c.get_double("training.scheduler.factor", o.plateau_factor);
  o.plateau_patience = static_cast<int>(c.get_int("training.scheduler.patience", o.plateau_patience));
  o.min_lr = c.get_double("training.scheduler.min_lr", o.min_lr);
  o.warmup_fraction = c.get_double("training.scheduler.warmup_fraction", o.warmup_fraction);
  o.loss = c.get_string("training.loss", o.loss);
  o.dice_weight = c.get_double("training.dice_weight", o.dice_weight);
  o.select = c.get_string("training.select", o.select);
  o.foreground_prior_bias = c.get_bool("training.foreground_prior_bias", o.foreground_prior_bias);
  o.time_budget_minutes = c.get_double("training.time_budget_minutes", o.time_budget_minutes);
  o.warm_epochs = static_cast<int>(c.get_int("training.warm_start.epochs", o.warm_epochs));
  o.warm_learning_rate = c.get_double("training.warm_start.learning_rate", o.warm_learning_rate);
  o.crop_size = static_cast<int>(c.get_int("training.crop_size", o.crop_size));
  o.crop_foreground = c.get_double("training.crop_foreground", o.crop_foreground);
  o.seed = static_cast<std::uint64_t>(c.get_int("training.seed", static_cast<std::int64_t>(o.seed)));
  o.channels_last = c.get_bool("training.channels_last", o.channels_last);
  o.precision = c.get_string("training.precision", o.precision);
  o.augment = image::augment_options(c);

  auto bad = [&](const char* key, const std::string& rule) {
    throw InvalidInput("{}: {}: {}", c.source(), key, rule);
  };
  if (o.model.input_size < 16 || o.model.input_size % 16 != 0) bad("model.input_size", "must be a multiple of 16, >= 16");
  if (o.model.base_filters < 1 || o.model.base_filters > 256) bad("model.base_filters", "must be 1..256");
  if (o.model.scales.empty() || o.model.scales.size() > 4) bad("model.scales", "must list 1 to 4 numbers");
  for (double s : o.model.scales)
    if (!(s >= 0.25 && s <= 4)) bad("model.scales", fmt::format("{} is not in 0.25..4", s));
  if (o.epochs < 1) bad("training.epochs", "must be >= 1");
  if (o.crop_size < 0 || o.crop_size % 16 != 0 || o.crop_size > o.model.input_size)
    bad("training.crop_size", "must be 0 or a multiple of 16 no larger than model.input_size");
  if (!(o.crop_foreground >= 0 && o.crop_foreground <= 1)) bad("training.crop_foreground", "must be in [0, 1]");
  const auto& a = o.augment;
  if (!(a.scale_prob >= 0 && a.scale_prob <= 1)) bad("augmentation.scale_prob", "must be in [0, 1]");
  if (!(a.scale_low > 0 && a.scale_low <= a.scale_high && a.scale_high <= 4))
    bad("augmentation.scale_low", "must be > 0 and <= augmentation.scale_high (<= 4)");
  if (!(a.rotation_degrees >= 0 && a.rotation_degrees <= 180)) bad("augmentation.rotation_degrees", "must be 0..180");
  if (o.warm_epochs < 0) bad("training.warm_start.epochs", "must be >= 0");
  if (o.warm_learning_rate < 0) bad("training.warm_start.learning_rate", "must be >= 0");
  if (o.batch_size < 1 || o.batch_size > 1024) bad("training.batch_size", "must be 1..1024");
  if (!(o.learning_rate > 0)) bad("training.learning_rate", "must be > 0");
  if (o.weight_decay < 0) bad("training.weight_decay", "must be >= 0");
  if (o.scheduler != "plateau" && o.scheduler != "onecycle" && o.scheduler != "cosine")
    bad("training.scheduler.kind", "must be plateau, onecycle or cosine");
  if (o.loss != "bce" && o.loss != "bce_dice") bad("training.loss", "must be bce or bce_dice");
  if (o.precision != "fp32" && o.precision != "bf16" && o.precision != "auto")
    bad("training.precision", "must be fp32, bf16 or auto");
  if (o.select != "val_loss" && o.select != "val_dice" && o.select != "last")
    bad("training.select", "must be val_loss, val_dice or last");
  if (o.select == "last" && o.scheduler == "plateau")
    bad("training.scheduler.kind", "plateau follows the validation loss: use onecycle or cosine with select: last");
  if (o.select == "last" && o.early_stopping_patience > 0)
    bad("training.early_stopping_patience", "must be 0 with select: last (there is no validation to stop on)");
  if (!(o.plateau_factor > 0 && o.plateau_factor < 1)) bad("training.scheduler.factor", "must be between 0 and 1");
  if (!(o.warmup_fraction >= 0 && o.warmup_fraction < 1)) bad("training.scheduler.warmup_fraction", "must be in [0, 1)");
  return o;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> out;
  for (const auto& p : presets()) out.push_back(p.name);
  return out;
}

std::string preset_text(const std::string& name) {
  for (const auto& p : presets())
    if (p.name == name) return p.text;
  throw NotFound("no preset named '{}' (presets: {})", name, fmt::join(preset_names(), ", "));
}

util::Config load_train_config(const std::string& ref) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(ref, ec)) return util::Config::load(ref);
  for (const auto& p : presets())
    if (p.name == ref) return util::Config::parse(p.text, "preset " + p.name);
  throw NotFound("--config {}: neither a file nor a preset (presets: {})", ref, fmt::join(preset_names(), ", "));
}

}  // namespace wms::train

namespace wms::train {

nlohmann::json to_json(const TrainOptions& o) {
  return {{"input_size", o.model.input_size}, {"base_filters", o.model.base_filters}, {"threshold", o.model.threshold},
          {"flip_average", o.model.flip_average}, {"scales", o.model.scales}, {"largest_component", o.model.largest_component},
          {"epochs", o.epochs}, {"batch_size", o.batch_size}, {"learning_rate", o.learning_rate},
          {"weight_decay", o.weight_decay}, {"early_stopping_patience", o.early_stopping_patience},
          {"scheduler", o.scheduler}, {"scheduler_factor", o.plateau_factor}, {"scheduler_patience", o.plateau_patience},
          {"min_lr", o.min_lr}, {"warmup_fraction", o.warmup_fraction}, {"loss", o.loss}, {"dice_weight", o.dice_weight},
          {"select", o.select}, {"foreground_prior_bias", o.foreground_prior_bias},
          {"time_budget_minutes", o.time_budget_minutes}, {"hflip", o.augment.hflip}, {"vflip", o.augment.vflip},
          {"rotation_degrees", o.augment.rotation_degrees}, {"rotation_prob", o.augment.rotation_prob},
          {"color_jitter_prob", o.augment.brightness_prob}, {"brightness_low", o.augment.brightness_low},
          {"brightness_high", o.augment.brightness_high},
          {"scale_prob", o.augment.scale_prob}, {"scale_low", o.augment.scale_low},
          {"scale_high", o.augment.scale_high}, {"seed", o.seed}, {"channels_last", o.channels_last},
          {"precision", o.precision}, {"crop_size", o.crop_size}, {"crop_foreground", o.crop_foreground},
          {"warm_start_epochs", o.warm_epochs}, {"warm_start_learning_rate", o.warm_learning_rate}};
}

}  // namespace wms::train
