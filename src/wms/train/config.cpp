#include "wms/train/config.hpp"

#include <filesystem>

#include "wms/train/presets.hpp"
#include "wms/util/error.hpp"
#include "wms/util/options.hpp"

namespace wms::train {

const util::Names<Scheduler> kSchedulerNames{
    {{Scheduler::kPlateau, "plateau"}, {Scheduler::kOneCycle, "onecycle"}, {Scheduler::kCosine, "cosine"}}};
const util::Names<Loss> kLossNames{{{Loss::kBce, "bce"}, {Loss::kBceDice, "bce_dice"}}};
const util::Names<Select> kSelectNames{
    {{Select::kValLoss, "val_loss"}, {Select::kValDice, "val_dice"}, {Select::kLast, "last"}}};

const util::OptionTable<TrainOptions>& train_option_table() {
  using util::Range;
  static const auto t =
      util::OptionTable<TrainOptions>()
          .add("model.input_size", "input_size", WMS_MEMBER(model.input_size), "side the photo is resized to (px)",
               Range::closed(16, 4096).step(16))
          .add("model.base_filters", "base_filters", WMS_MEMBER(model.base_filters), "U-Net width",
               Range::closed(1, 256))
          .add("model.threshold", "threshold", WMS_MEMBER(model.threshold),
               "probability above which a pixel is the window", Range::open(0, 1))
          .add("model.flip_average", "flip_average", WMS_MEMBER(model.flip_average),
               "also predict on the mirror image, average")
          .add("model.scales", "scales", WMS_MEMBER(model.scales),
               "views at these multiples of input_size, combined by maximum", Range::closed(0.25, 4))
          .add("model.extra_scales_window_below", "extra_scales_window_below", WMS_MEMBER(model.extra_scales_window_below),
               "the views after the first only for photos whose first view finds a window smaller than this "
               "share of the photo, or none (1: always)",
               Range::open_closed(0, 1))
          .add("model.region", "region", WMS_MEMBER(model.region),
               "regions the mask keeps: all | largest | window (the most evidence, with its pieces)",
               nn::kRegionNames)
          .add("training.epochs", "epochs", WMS_MEMBER(epochs), "upper bound; early stopping may end sooner",
               Range::at_least(1))
          .add("training.batch_size", "batch_size", WMS_MEMBER(batch_size), "photos per step", Range::closed(1, 1024))
          .add("training.learning_rate", "learning_rate", WMS_MEMBER(learning_rate), "Adam; the peak for onecycle",
               Range::above(0))
          .add("training.weight_decay", "weight_decay", WMS_MEMBER(weight_decay), "Adam's L2 term", Range::at_least(0))
          .add("training.early_stopping_patience", "early_stopping_patience", WMS_MEMBER(early_stopping_patience),
               "epochs without a better selection metric; 0 = off", Range::at_least(0))
          .add("training.scheduler.kind", "scheduler", WMS_MEMBER(scheduler), "learning-rate schedule", kSchedulerNames)
          .add("training.scheduler.factor", "scheduler_factor", WMS_MEMBER(plateau_factor), "plateau: rate multiplier",
               Range::open(0, 1))
          .add("training.scheduler.patience", "scheduler_patience", WMS_MEMBER(plateau_patience),
               "plateau: epochs to wait", Range::at_least(0))
          .add("training.scheduler.min_lr", "min_lr", WMS_MEMBER(min_lr), "plateau: lowest rate", Range::at_least(0))
          .add("training.scheduler.warmup_fraction", "warmup_fraction", WMS_MEMBER(warmup_fraction),
               "onecycle/cosine: share of steps warming up", Range::half_open(0, 1))
          .add("training.loss", "loss", WMS_MEMBER(loss), "training loss", kLossNames)
          .add("training.dice_weight", "dice_weight", WMS_MEMBER(dice_weight), "bce_dice: weight of the Dice term",
               Range::at_least(0))
          .add("training.select", "select", WMS_MEMBER(select), "what picks the kept epoch", kSelectNames)
          .add("training.foreground_prior_bias", "foreground_prior_bias", WMS_MEMBER(foreground_prior_bias),
               "start the last bias at the foreground share's logit")
          .add("training.time_budget_minutes", "time_budget_minutes", WMS_MEMBER(time_budget_minutes),
               "the epochs and the schedule are planned to fit; 0 = none", Range::at_least(0))
          .add("training.warm_start.epochs", "warm_start_epochs", WMS_MEMBER(warm_epochs),
               "warm start: its own epochs; 0 = as from scratch", Range::at_least(0))
          .add("training.warm_start.learning_rate", "warm_start_learning_rate", WMS_MEMBER(warm_learning_rate),
               "warm start: its peak rate; 0 = as from scratch", Range::at_least(0))
          .add("training.crop_size", "crop_size", WMS_MEMBER(crop_size), "train on crops of this side; 0 = whole image",
               Range::closed(0, 4096).step(16))
          .add("training.crop_foreground", "crop_foreground", WMS_MEMBER(crop_foreground),
               "share of crops placed on the window", Range::closed(0, 1))
          .add("training.hard_negatives", "hard_negatives", WMS_MEMBER(hard_negatives),
               "share of crops placed on mined false positives", Range::closed(0, 1))
          .add("training.seed", "seed", WMS_MEMBER(seed), "weights, shuffling and augmentation")
          .add("training.channels_last", "channels_last", WMS_MEMBER(channels_last), "memory format (speed only)")
          .add("training.precision", "precision", WMS_MEMBER(precision), "auto: bf16 where the CPU has it natively",
               kPrecisionNames)
          .add("augmentation.horizontal_flip", "hflip", WMS_MEMBER(augment.hflip), "probability", Range::closed(0, 1))
          .add("augmentation.vertical_flip", "vflip", WMS_MEMBER(augment.vflip), "probability", Range::closed(0, 1))
          .add("augmentation.rotation_degrees", "rotation_degrees", WMS_MEMBER(augment.rotation_degrees),
               "rotation drawn in +-degrees", Range::closed(0, 180))
          .add("augmentation.rotation_prob", "rotation_prob", WMS_MEMBER(augment.rotation_prob), "probability",
               Range::closed(0, 1))
          .add("augmentation.color_jitter_prob", "color_jitter_prob", WMS_MEMBER(augment.brightness_prob),
               "probability of a brightness change", Range::closed(0, 1))
          .add("augmentation.brightness_low", "brightness_low", WMS_MEMBER(augment.brightness_low),
               "brightness factor from", Range::above(0))
          .add("augmentation.brightness_high", "brightness_high", WMS_MEMBER(augment.brightness_high),
               "brightness factor to", Range::above(0))
          .add("augmentation.scale_prob", "scale_prob", WMS_MEMBER(augment.scale_prob), "probability of a zoom",
               Range::closed(0, 1))
          .add("augmentation.scale_low", "scale_low", WMS_MEMBER(augment.scale_low), "zoom factor from",
               Range::above(0))
          .add("augmentation.scale_high", "scale_high", WMS_MEMBER(augment.scale_high), "zoom factor to",
               Range::closed(0, 4));
  return t;
}

void validate(const TrainOptions& o, const std::string& source) {
  train_option_table().validate(o, source);
  auto bad = [&](const char* key, const std::string& rule) { throw InvalidInput("{}: {}: {}", source, key, rule); };
  if (o.model.scales.empty() || o.model.scales.size() > 4) bad("model.scales", "must list 1 to 4 numbers");
  if (o.crop_size > o.model.input_size)
    bad("training.crop_size",
        fmt::format("must be no larger than model.input_size (found {} > {})", o.crop_size, o.model.input_size));
  if (o.hard_negatives > 0 && o.crop_size == 0)
    bad("training.hard_negatives", "needs training.crop_size: a share of the crops is placed on them");
  if (o.crop_foreground + o.hard_negatives > 1)
    bad("training.hard_negatives", fmt::format("with training.crop_foreground must sum to at most 1 (found {} + {})",
                                               o.crop_foreground, o.hard_negatives));
  const auto& a = o.augment;
  if (a.scale_low > a.scale_high)
    bad("augmentation.scale_low",
        fmt::format("must be <= augmentation.scale_high (found {} > {})", a.scale_low, a.scale_high));
  if (a.brightness_low > a.brightness_high)
    bad("augmentation.brightness_low",
        fmt::format("must be <= augmentation.brightness_high (found {} > {})", a.brightness_low, a.brightness_high));
  if (o.select == Select::kLast && o.scheduler == Scheduler::kPlateau)
    bad("training.scheduler.kind", "plateau follows the validation loss: use onecycle or cosine with select: last");
  if (o.select == Select::kLast && o.early_stopping_patience > 0)
    bad("training.early_stopping_patience", "must be 0 with select: last (there is no validation to stop on)");
}

TrainOptions train_options(const util::Config& c) {
  TrainOptions o;
  for (auto& row : train_option_table().rows()) row.read(o, c);
  // Refused rather than ignored, so that an older wms.yaml does not silently change its masks.
  if (c.has("model.largest_component"))
    throw InvalidInput("{}: model.largest_component: renamed to model.region (largest_component: true is region: "
                       "largest; region: window keeps the region with the most evidence)",
                       c.source());
  validate(o, c.source());
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
  return train_option_table().record(o);
}

}  // namespace wms::train
