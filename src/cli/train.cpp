#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/inputs.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/registry/tracked.hpp"
#include "wms/train/config.hpp"
#include "wms/train/trainer.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/signals.hpp"

namespace wms::cli {

void add_train(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("train", "train a U-Net on a dataset version or a folder; writes a model bundle "
                                           "(and, in a workspace, records the run and registers a model version)");
  static std::string config_ref, data_ref, out_path, device = "auto", precision, init_ref;
  static int epochs = 0, input_size = 0, batch = 0;
  static long long seed = -1;
  static double budget = -1, lr = 0;
  app->add_option("--config,-c", config_ref,
                  "config file or preset name (" + fmt::format("{}", fmt::join(train::preset_names(), ", ")) +
                      "); default: the workspace's wms.yaml, else the original recipe");
  app->add_option("--data,-d", data_ref, "dataset version (id prefix, head) or a folder with images/ and masks/ (default: head)");
  app->add_option("--epochs", epochs, "override training.epochs");
  app->add_option("--seed", seed, "override training.seed");
  app->add_option("--input-size", input_size, "override model.input_size");
  app->add_option("--batch-size", batch, "override training.batch_size");
  app->add_option("--lr", lr, "override training.learning_rate");
  app->add_option("--time-budget", budget, "minutes: the epochs (and the schedule) are planned to fit");
  app->add_option("--precision", precision, "override training.precision: fp32 | bf16 | auto");
  app->add_option("--init", init_ref, "warm start from this model (version, alias or bundle) instead of fresh weights");
  app->add_option("--out,-o", out_path, "also write the bundle here (required outside a workspace)");
  add_device_option(*app, device);
  add_common_options(*app, g, true, true);
  out.push_back({app, [&g] {
    util::install_interrupt_handler();
    auto ws = maybe_workspace(g);
    util::Config config = !config_ref.empty() ? train::load_train_config(config_ref) : ws ? ws->config() : util::Config();
    auto o = train::train_options(config);
    if (epochs > 0) o.epochs = o.warm_epochs = epochs;  // what was asked for, warm start or not
    if (seed >= 0) o.seed = static_cast<std::uint64_t>(seed);
    if (input_size > 0) o.model.input_size = input_size;
    if (batch > 0) o.batch_size = batch;
    if (lr > 0) o.learning_rate = o.warm_learning_rate = lr;
    if (budget >= 0) o.time_budget_minutes = budget;
    if (!precision.empty()) o.precision = precision;
    o.threads = g.threads;
    o.device = device;
    if (o.model.input_size % 16 != 0) throw InvalidInput("--input-size {}: must be a multiple of 16", o.model.input_size);
    if (!ws && out_path.empty()) throw InvalidInput("--out is required outside a workspace");

    auto sel = select_data(g, data_ref);
    std::optional<nn::Model> init;
    if (!init_ref.empty()) init = load_model(g, init_ref);
    auto log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    auto stop = [] { return util::interrupted(); };

    nlohmann::json summary;
    if (ws) {
      registry::Registry reg(registry::registry_path(*ws));
      registry::TrackedRequest q{sel.samples, sel.dataset_version, o, "", init ? &*init : nullptr, init_ref, stop, log};
      auto r = registry::train_tracked(*ws, reg, q);
      if (!out_path.empty()) util::atomic_copy(r.bundle, out_path);
      summary = r.summary;
    } else {
      auto train_set = train::only(sel.samples, data::Split::kTrain);
      if (train_set.empty()) throw InvalidInput("{}: the train split is empty", sel.label);
      log(fmt::format("training on {}: {} train pairs at {} px", sel.label, train_set.size(), o.model.input_size));
      struct PrintSink : train::MetricsSink {
        void epoch(const train::EpochMetrics& m) override {
          if (m.validated)
            std::fprintf(stderr, "epoch %3d  train loss %.4f  val loss %.4f  val dice %.4f  %.1f img/s\n", m.epoch,
                         m.train_loss, m.val_loss, m.val_dice, m.images_per_second);
          else
            std::fprintf(stderr, "epoch %3d  train loss %.4f  %.1f img/s\n", m.epoch, m.train_loss, m.images_per_second);
        }
      } sink;
      auto r = train::train_model(train_set, train::only(sel.samples, data::Split::kVal), o, &sink, stop,
                                  init ? &*init : nullptr);
      r.model->save(out_path);
      summary = {{"bundle", out_path}, {"epochs_run", r.history.size()}, {"best_epoch", r.best_epoch},
                 {"stop_reason", r.stop_reason}, {"seconds", r.seconds}, {"metrics", r.model->info().metrics}};
    }
    if (g.json) {
      print_json(summary);
      return kExitOk;
    }
    std::printf("trained %d epochs (best %d, %s) in %.0fs -> %s\n", summary["epochs_run"].get<int>(),
                summary["best_epoch"].get<int>(), summary["stop_reason"].get<std::string>().c_str(),
                summary["seconds"].get<double>(), summary["bundle"].get<std::string>().c_str());
    if (summary.contains("model_version")) std::printf("registered as model version %d\n", summary["model_version"].get<int>());
    for (auto& [k, v] : summary["metrics"].items()) std::printf("  %-16s %s\n", k.c_str(), v.dump().c_str());
    return kExitOk;
  }});
}

}  // namespace wms::cli
