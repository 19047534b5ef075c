#include "wms/pipeline/training.hpp"

#include <fmt/format.h>

#include "wms/registry/promotion.hpp"
#include "wms/registry/sink.hpp"
#include "wms/train/evaluator.hpp"
#include "wms/train/plot.hpp"
#include "wms/train/trainer.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::pipeline {
namespace {

using registry::Registry;

std::string epoch_line(const train::EpochMetrics& m) {
  return fmt::format(
      "epoch {:3d}  train loss {:.4f}{}  lr {:.2g}  {:.1f} img/s  {:.0f}s{}", m.epoch, m.train_loss,
      m.validated ? fmt::format("  val loss {:.4f}  val dice {:.4f}  val iou {:.4f}", m.val_loss, m.val_dice, m.val_iou)
                  : "",
      m.learning_rate, m.images_per_second, m.seconds,
      m.hard_negative_regions > 0 ? fmt::format("  hard negatives: {} regions on {} photos", m.hard_negative_regions,
                                                m.hard_negative_photos)
                                  : "");
}

// Each epoch to the log only.
class LineSink : public train::MetricsSink {
 public:
  explicit LineSink(std::function<void(const std::string&)> log) : log_(std::move(log)) {}
  void epoch(const train::EpochMetrics& m) override {
    if (log_) log_(epoch_line(m));
  }

 private:
  std::function<void(const std::string&)> log_;
};

class LogSink : public train::MetricsSink {
 public:
  LogSink(fs::path jsonl, Registry& reg, std::string run, std::function<void(const std::string&)> log)
      : file_(std::move(jsonl)), registry_(reg, std::move(run)), log_(std::move(log)) {}
  void epoch(const train::EpochMetrics& m) override {
    if (log_) log_(epoch_line(m));
    file_.epoch(m);
    registry_.epoch(m);
  }

 private:
  train::JsonlSink file_;
  registry::RegistrySink registry_;
  std::function<void(const std::string&)> log_;
};

}  // namespace

TrackedResult train_tracked(const data::Workspace& ws, Registry& reg, const TrackedRequest& q) {
  const auto& o = q.options;
  auto train_set = train::only(q.samples, data::Split::kTrain);
  auto val_set = train::only(q.samples, data::Split::kVal);
  auto test_set = train::only(q.samples, data::Split::kTest);
  if (train_set.empty()) throw InvalidInput("the train split is empty ({} pairs in all)", q.samples.size());

  TrackedResult r;
  r.run_id = reg.create_run({"train", q.parent_run, q.dataset_version, "", ""});
  r.run_dir = ws.run_dir(r.run_id);
  r.bundle = r.run_dir / "model.wms";
  util::make_dirs(r.run_dir);
  reg.set_run_dir(r.run_id, r.run_dir.string());
  try {
    reg.log_params(r.run_id, train::to_json(o));
    if (q.init) reg.set_tag(r.run_id, "init", q.init_label);
    util::atomic_write(r.run_dir / "params.json", train::to_json(o).dump(2) + "\n");
    if (q.log)
      q.log(fmt::format("training run {}: {} train / {} val{} / {} test pairs at {} px{}", r.run_id, train_set.size(),
                        val_set.size(), o.select == train::Select::kLast ? " (trained on, select: last)" : "",
                        test_set.size(), o.model.input_size, q.init ? " (warm start from " + q.init_label + ")" : ""));
    LogSink sink(r.run_dir / "metrics.jsonl", reg, r.run_id, q.log);
    auto result = q.trainer ? q.trainer(train_set, val_set, o, &sink, q.should_stop, q.init)
                            : train::train_model(train_set, val_set, o, &sink, q.should_stop, q.init);
    nn::Model& model = *result.model;
    model.info().dataset_version = q.dataset_version;
    if (!test_set.empty()) {
      train::EvalOptions eo;
      eo.threads = o.threads;
      eo.device = o.device;
      eo.photos = q.test_photos;
      auto ev = train::evaluate(model, test_set, eo);
      model.info().metrics["score_size"] = ev.score_size;
      model.info().metrics["test_dice"] = ev.mean_input.dice;
      model.info().metrics["test_iou"] = ev.mean_input.iou;
      model.info().metrics["test_hausdorff"] = ev.mean_input.hausdorff;
      model.info().metrics["test_dice_full"] = ev.mean_full.dice;
      model.info().metrics["test_iou_full"] = ev.mean_full.iou;
      r.test_eval = std::move(ev);
    }
    model.save(r.bundle);
    util::atomic_write(r.run_dir / "curves.svg", train::curves_svg(result.history, r.run_id));
    r.model_version = registry::register_bundle(ws, reg, model, r.run_id);
    for (auto& [k, v] : model.info().metrics.items())
      if (v.is_number()) reg.log_metric(r.run_id, k, static_cast<std::int64_t>(result.history.size()), v.get<double>());
    r.summary = {{"run_id", r.run_id},
                 {"run_dir", r.run_dir.string()},
                 {"bundle", r.bundle.string()},
                 {"dataset_version", q.dataset_version},
                 {"epochs_run", result.history.size()},
                 {"best_epoch", result.best_epoch},
                 {"stop_reason", result.stop_reason},
                 {"seconds", result.seconds},
                 {"model_version", r.model_version},
                 {"metrics", model.info().metrics}};
    util::atomic_write(r.run_dir / "summary.json", r.summary.dump(2) + "\n");
    reg.finish_run(r.run_id, registry::kSuccess);
    r.model = model;
    return r;
  } catch (const Cancelled& e) {
    reg.finish_run(r.run_id, registry::kCancelled, e.what());
    throw;
  } catch (const std::exception& e) {
    reg.finish_run(r.run_id, registry::kFailure, e.what());
    throw;
  }
}

TrackedResult train_to_file(const TrackedRequest& q, const fs::path& bundle) {
  const auto& o = q.options;
  auto train_set = train::only(q.samples, data::Split::kTrain);
  if (train_set.empty()) throw InvalidInput("the train split is empty ({} pairs in all)", q.samples.size());
  if (q.log) q.log(fmt::format("training on {} train pairs at {} px", train_set.size(), o.model.input_size));
  LineSink sink(q.log);
  auto result =
      train::train_model(train_set, train::only(q.samples, data::Split::kVal), o, &sink, q.should_stop, q.init);
  result.model->save(bundle);
  TrackedResult r;
  r.bundle = bundle;
  r.summary = {{"bundle", bundle.string()},       {"epochs_run", result.history.size()},
               {"best_epoch", result.best_epoch}, {"stop_reason", result.stop_reason},
               {"seconds", result.seconds},       {"metrics", result.model->info().metrics}};
  r.model = *result.model;
  return r;
}

}  // namespace wms::pipeline
