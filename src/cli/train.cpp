#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/inputs.hpp"
#include "wms/pipeline/training.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/train/config.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/signals.hpp"

namespace wms::cli {
namespace {

struct TrainArgs {
  std::string config_ref, data_ref, out_path, precision, init_ref;
  train::Device device = train::Device::kAuto;
  std::optional<int> epochs, input_size, batch;
  std::optional<std::uint64_t> seed;
  std::optional<double> budget, lr;
};

// The options of a run: the config (a file, a preset, else the workspace's wms.yaml),
// then the command line, validated together.
train::TrainOptions options_of(const TrainArgs& a, const Globals& g, const std::optional<data::Workspace>& ws) {
  util::Config config = !a.config_ref.empty() ? train::load_train_config(a.config_ref)
                        : ws                  ? ws->config()
                                              : util::Config();
  auto o = train::train_options(config);
  if (a.epochs) o.epochs = o.warm_epochs = *a.epochs;  // what was asked for, warm start or not
  if (a.seed) o.seed = *a.seed;
  if (a.input_size) o.model.input_size = *a.input_size;
  if (a.batch) o.batch_size = *a.batch;
  if (a.lr) o.learning_rate = o.warm_learning_rate = *a.lr;
  if (a.budget) o.time_budget_minutes = *a.budget;
  if (!a.precision.empty()) o.precision = train::kPrecisionNames.parse(a.precision, "training.precision (--precision)");
  o.threads = g.threads;
  o.device = a.device;
  train::validate(o, "the command line (with " + config.source() + ")");
  return o;
}

int run_train(const TrainArgs& a, const Globals& g) {
  util::install_interrupt_handler();
  auto ws = maybe_workspace(g);
  auto o = options_of(a, g, ws);
  if (!ws && a.out_path.empty()) throw InvalidInput("--out is required outside a workspace");
  auto sel = select_data(g, a.data_ref);
  std::optional<nn::Model> init;
  if (!a.init_ref.empty()) init = load_model(g, a.init_ref);
  pipeline::TrackedRequest q{sel.samples,
                             sel.dataset_version,
                             o,
                             "",
                             init ? &*init : nullptr,
                             a.init_ref,
                             [] { return util::interrupted(); },
                             [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }};
  nlohmann::json summary;
  if (ws) {
    auto reg = registry::open(*ws);
    auto r = pipeline::train_tracked(*ws, reg, q);
    if (!a.out_path.empty()) util::atomic_copy(r.bundle, a.out_path);
    summary = r.summary;
  } else {
    summary = pipeline::train_to_file(q, a.out_path).summary;
  }
  if (g.json) {
    print_json(summary);
    return kExitOk;
  }
  std::printf("trained %d epochs (best %d, %s) in %.0fs -> %s\n", summary["epochs_run"].get<int>(),
              summary["best_epoch"].get<int>(), summary["stop_reason"].get<std::string>().c_str(),
              summary["seconds"].get<double>(), summary["bundle"].get<std::string>().c_str());
  if (summary.contains("model_version"))
    std::printf("registered as model version %d\n", summary["model_version"].get<int>());
  for (auto& [k, v] : summary["metrics"].items()) std::printf("  %-16s %s\n", k.c_str(), v.dump().c_str());
  return kExitOk;
}

}  // namespace

void add_train(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("train",
                                  "train a U-Net on a dataset version or a folder; writes a model bundle "
                                  "(and, in a workspace, records the run and registers a model version)");
  auto a = std::make_shared<TrainArgs>();
  app->add_option("--config,-c", a->config_ref,
                  "config file or preset name (" + fmt::format("{}", fmt::join(train::preset_names(), ", ")) +
                      "); default: the workspace's wms.yaml, else the original recipe");
  app->add_option("--data,-d", a->data_ref,
                  "dataset version (id prefix, head) or a folder with images/ and masks/ (default: head)");
  app->add_option("--epochs", a->epochs, "override training.epochs");
  app->add_option("--seed", a->seed, "override training.seed");
  app->add_option("--input-size", a->input_size, "override model.input_size");
  app->add_option("--batch-size", a->batch, "override training.batch_size");
  app->add_option("--lr", a->lr, "override training.learning_rate");
  app->add_option("--time-budget", a->budget, "minutes: the epochs (and the schedule) are planned to fit");
  app->add_option("--precision", a->precision, "override training.precision: fp32 | bf16 | auto");
  app->add_option("--init", a->init_ref,
                  "warm start from this model (version, alias or bundle) instead of fresh weights");
  app->add_option("--out,-o", a->out_path, "also write the bundle here (required outside a workspace)");
  add_device_option(*app, a->device);
  add_common_options(*app, g, true, true);
  out.push_back({app, [a, &g] { return run_train(*a, g); }});
}

}  // namespace wms::cli
