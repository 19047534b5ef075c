#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <random>

#include "cli/command.hpp"
#include "cli/inputs.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/registry/sink.hpp"
#include "wms/train/config.hpp"
#include "wms/train/evaluator.hpp"
#include "wms/train/trainer.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/signals.hpp"

namespace wms::cli {
namespace {

// One line per epoch on stderr (also when not a terminal), JSON lines in the run folder,
// and the registry's metric series when there is a workspace.
class PrintSink : public train::MetricsSink {
 public:
  PrintSink(std::filesystem::path jsonl, train::MetricsSink* also) : file_(std::move(jsonl)), also_(also) {}
  void epoch(const train::EpochMetrics& m) override {
    std::fprintf(stderr, "epoch %3d  train loss %.4f  val loss %.4f  val dice %.4f  val iou %.4f  lr %.2g  %.1f img/s  %.0fs\n",
                 m.epoch, m.train_loss, m.val_loss, m.val_dice, m.val_iou, m.learning_rate, m.images_per_second, m.seconds);
    file_.epoch(m);
    if (also_) also_->epoch(m);
  }

 private:
  train::JsonlSink file_;
  train::MetricsSink* also_;
};

std::string new_run_id(const char* kind) {
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  std::random_device rd;
  return fmt::format("{}-{:%Y%m%d-%H%M%S}-{:04x}", kind, now, rd() & 0xffff);
}

}  // namespace

void add_train(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("train", "train a U-Net on a dataset version or a folder; writes a model bundle");
  static std::string config_ref, data_ref, out_path, device = "auto";
  static int epochs = 0, input_size = 0, batch = 0;
  static std::string precision;
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
  app->add_option("--time-budget", budget, "stop after the epoch that passes this many minutes");
  app->add_option("--out,-o", out_path, "model bundle to write (default: the run folder's model.wms)");
  app->add_option("--device", device, "auto | cpu | cuda")->capture_default_str();
  app->add_option("--precision", precision, "override training.precision: fp32 | bf16 | auto");
  add_common_options(*app, g, true, true);
  out.push_back({app, [&g] {
    util::install_interrupt_handler();
    auto ws = maybe_workspace(g);
    util::Config config = !config_ref.empty() ? train::load_train_config(config_ref) : ws ? ws->config() : util::Config();
    auto o = train::train_options(config);
    if (epochs > 0) o.epochs = epochs;
    if (seed >= 0) o.seed = static_cast<std::uint64_t>(seed);
    if (input_size > 0) o.model.input_size = input_size;
    if (batch > 0) o.batch_size = batch;
    if (lr > 0) o.learning_rate = lr;
    if (budget >= 0) o.time_budget_minutes = budget;
    o.threads = g.threads;
    o.device = device;
    if (!precision.empty()) o.precision = precision;
    if (o.model.input_size % 16 != 0) throw InvalidInput("--input-size {}: must be a multiple of 16", o.model.input_size);

    auto sel = select_data(g, data_ref);
    auto train_set = train::only(sel.samples, data::Split::kTrain);
    auto val_set = train::only(sel.samples, data::Split::kVal);
    auto test_set = train::only(sel.samples, data::Split::kTest);
    if (train_set.empty()) throw InvalidInput("{}: the train split is empty ({} pairs in all)", sel.label, sel.samples.size());

    if (!ws && out_path.empty()) throw InvalidInput("--out is required outside a workspace");
    std::optional<registry::Registry> reg;
    std::string run_id;
    if (ws) {
      reg.emplace(registry::registry_path(*ws));
      run_id = reg->create_run({"train", "", sel.dataset_version, "", ""});
    } else {
      run_id = new_run_id("train");
    }
    std::filesystem::path run_dir =
        ws ? ws->wms_dir() / "runs" / run_id : std::filesystem::path(out_path).parent_path() / run_id;
    util::make_dirs(run_dir);
    if (reg) reg->set_run_dir(run_id, run_dir.string());
    try {
    std::filesystem::path bundle = out_path.empty() ? run_dir / "model.wms" : std::filesystem::path(out_path);
    util::atomic_write(run_dir / "params.json", train::to_json(o).dump(2) + "\n");
    std::fprintf(stderr, "training on %s: %zu train / %zu val / %zu test pairs at %d px, run %s\n", sel.label.c_str(),
                 train_set.size(), val_set.size(), test_set.size(), o.model.input_size, run_id.c_str());

    std::optional<registry::RegistrySink> reg_sink;
    if (reg) {
      reg->log_params(run_id, train::to_json(o));
      reg_sink.emplace(*reg, run_id);
    }
    PrintSink sink(run_dir / "metrics.jsonl", reg_sink ? &*reg_sink : nullptr);
    auto result = train::train_model(train_set, val_set, o, &sink, [] { return util::interrupted(); });
    nn::Model& model = *result.model;
    model.info().dataset_version = sel.dataset_version;
    nlohmann::json summary = {{"run_id", run_id}, {"run_dir", run_dir.string()}, {"bundle", bundle.string()},
                              {"dataset", sel.label}, {"epochs_run", result.history.size()},
                              {"best_epoch", result.best_epoch}, {"stop_reason", result.stop_reason},
                              {"seconds", result.seconds}, {"metrics", model.info().metrics}};
    if (!test_set.empty()) {
      train::EvalOptions eo;
      eo.threads = g.threads;
      eo.device = device;
      auto ev = train::evaluate(model, test_set, eo);
      model.info().metrics["score_size"] = ev.score_size;
      model.info().metrics["test_dice"] = ev.mean_input.dice;
      model.info().metrics["test_iou"] = ev.mean_input.iou;
      model.info().metrics["test_hausdorff"] = ev.mean_input.hausdorff;
      model.info().metrics["test_dice_full"] = ev.mean_full.dice;
      model.info().metrics["test_iou_full"] = ev.mean_full.iou;
      summary["metrics"] = model.info().metrics;
    }
    model.save(bundle);
    if (reg) {
      int version = registry::register_bundle(*ws, *reg, model, run_id);
      summary["model_version"] = version;
      for (auto& [k, v] : model.info().metrics.items())
        if (v.is_number()) reg->log_metric(run_id, k, static_cast<std::int64_t>(result.history.size()), v.get<double>());
      reg->finish_run(run_id, registry::kSuccess);
    }
    util::atomic_write(run_dir / "summary.json", summary.dump(2) + "\n");
    if (g.json) {
      print_json(summary);
    } else {
      std::printf("trained %zu epochs (best %d, %s) in %.0fs -> %s\n", result.history.size(), result.best_epoch,
                  result.stop_reason.c_str(), result.seconds, bundle.c_str());
      if (summary.contains("model_version")) std::printf("registered as model version %d\n", summary["model_version"].get<int>());
      for (auto& [k, v] : model.info().metrics.items()) std::printf("  %-16s %s\n", k.c_str(), v.dump().c_str());
    }
    return kExitOk;
    } catch (const Cancelled& e) {
      if (reg) reg->finish_run(run_id, registry::kCancelled, e.what());
      throw;
    } catch (const std::exception& e) {
      if (reg) reg->finish_run(run_id, registry::kFailure, e.what());
      throw;
    }
  }});
}

}  // namespace wms::cli
