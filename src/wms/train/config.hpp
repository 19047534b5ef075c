// Training options: defaults, the config keys that set them, and shipped presets.
//
// The original's train.yaml keys are accepted as they are (model.input_size,
// training.epochs / batch_size / learning_rate / weight_decay /
// early_stopping_patience / scheduler.factor / patience / min_lr, augmentation.*);
// wms's own keys sit beside them (training.loss, training.scheduler.kind, ...).
// A preset is a config file shipped inside wms, chosen by name (`--config original`).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "wms/image/augment.hpp"
#include "wms/nn/model.hpp"
#include "wms/train/runtime.hpp"
#include "wms/util/config.hpp"
#include "wms/util/options.hpp"

namespace wms::train {

/// Learning-rate schedules: ReduceLROnPlateau on the validation loss (the original),
/// one-cycle, cosine.
enum class Scheduler { kPlateau, kOneCycle, kCosine };
/// Training losses: binary cross-entropy (the original), BCE + soft Dice.
enum class Loss { kBce, kBceDice };
/// What picks the kept epoch (and drives early stopping): the validation loss (the
/// original), the validation Dice, or the last epoch (no validation: the validation
/// photos are trained on too; with one-cycle or cosine the last epoch is the annealed one).
enum class Select { kValLoss, kValDice, kLast };
/// Their names in wms.yaml, params.json and messages.
extern const util::Names<Scheduler> kSchedulerNames;
extern const util::Names<Loss> kLossNames;
extern const util::Names<Select> kSelectNames;

struct TrainOptions {
  nn::ModelConfig model;  ///< model.input_size (512), model.base_filters (16)
  int epochs = 100;       ///< upper bound; early stopping may end sooner
  int batch_size = 4;
  double learning_rate = 1e-4;      ///< Adam; the peak rate for onecycle
  double weight_decay = 1e-4;       ///< Adam's L2 term, as PyTorch's Adam
  int early_stopping_patience = 5;  ///< epochs without a better selection metric; 0 = off
  Scheduler scheduler = Scheduler::kPlateau;
  double plateau_factor = 0.5;
  int plateau_patience = 3;
  double min_lr = 1e-6;
  double warmup_fraction = 0.3;  ///< onecycle/cosine: share of steps spent warming up
  Loss loss = Loss::kBce;
  double dice_weight = 1.0;
  Select select = Select::kValLoss;
  /// Start the final layer's bias at the logit of the training foreground share
  /// (a 2% foreground otherwise starts the loss far from its optimum).
  bool foreground_prior_bias = false;
  double time_budget_minutes = 0;  ///< stop after the epoch that crosses it; 0 = none
  /// Train on random crop_size x crop_size windows of the input_size image (after
  /// augmentation and the contrast stretch, which see the whole image), validate and
  /// predict on the whole image. The model learns at input_size's scale for the cost
  /// of crop_size's: the U-Net is fully convolutional. 0 = the whole image.
  int crop_size = 0;
  /// Share of crops placed so that they contain the mask's centre (the reading window
  /// is ~2% of a photo; uniform crops of a quarter of the image miss it often).
  double crop_foreground = 0.5;
  /// Share of crops placed on hard negatives: background that the model, as trained so
  /// far, takes for a window (tile borders, hoses, labels beside the meter), mined on
  /// every training photo at 40% and 70% of the planned run (trainer.cpp). 0 = none.
  double hard_negatives = 0;
  /// Warm start (training from an existing model): its own, shorter schedule.
  /// 0 = the same as a training from scratch.
  int warm_epochs = 0;            ///< training.warm_start.epochs
  double warm_learning_rate = 0;  ///< training.warm_start.learning_rate (peak)
  image::AugmentOptions augment;
  std::uint64_t seed = 42;
  unsigned threads = 0;  ///< 0: every core
  Device device = Device::kAuto;
  bool channels_last = true;  ///< memory format for the convolutions (speed only)
  /// "fp32", "bf16" (mixed precision: bf16 convolutions, fp32 weights and loss) or
  /// "auto" (bf16 where the CPU has native bf16).
  Precision precision = Precision::kFp32;
};

/// The options table (util/options.hpp): key in wms.yaml, name in params.json, rule and
/// help of every option above but threads and device (which come from the command line).
const util::OptionTable<TrainOptions>& train_option_table();

/// Reads every option from a config (missing keys keep their defaults) and validates.
/// Throws InvalidInput "source: key: rule (found value)".
TrainOptions train_options(const util::Config& config);
/// Checks every option and the rules between them, whoever set them (after command-line
/// overrides too). Throws InvalidInput naming `source` and the key.
void validate(const TrainOptions& o, const std::string& source);

/// Names of the presets shipped with wms.
std::vector<std::string> preset_names();

/// `--config` value: a file path, or the name of a preset. Throws NotFound otherwise.
util::Config load_train_config(const std::string& file_or_preset);

/// The text of a shipped preset (throws NotFound).
std::string preset_text(const std::string& name);

}  // namespace wms::train

namespace wms::train {
/// Every option as JSON (recorded with each run and model), from the options table.
nlohmann::json to_json(const TrainOptions& o);
}  // namespace wms::train
