// train: up to pipeline.attempts trainings on the candidate dataset version, each
// gated against production on the same test split (production is scored once per
// run; each attempt's scores come from its own training run). The best attempt is the
// job's result; the first that improves ends the job.
#include <fmt/format.h>

#include <chrono>

#include "wms/gate/decision.hpp"
#include "wms/pipeline/runner.hpp"
#include "wms/pipeline/sync.hpp"
#include "wms/pipeline/training.hpp"
#include "wms/pipeline/worker.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/train/config.hpp"
#include "wms/train/runtime.hpp"
#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"
#include "wms/util/fs.hpp"

namespace wms::pipeline {

void Runner::train() {
  const JobId job = JobId::kTrain;
  begin(job);
  util::failpoint("pipeline.train.start");
  auto opts = train::train_options(train_config());
  opts.threads = o.threads;
  opts.device = o.device;
  const int attempts = settings.attempts;
  const bool warm = settings.warm_start;
  data::Dataset ds(ws);
  const std::string candidate_version = st.validate->candidate_version.value();
  auto samples = train::samples_from_version(ws, ds.get(candidate_version));
  auto test = train::only(samples, data::Split::kTest);
  if (test.empty()) throw InvalidInput("gate: the test split is empty; add data before gating");
  auto champion_version = reg.alias(registry::kProduction);
  std::optional<nn::Model> champion;
  if (champion_version) champion = registry::load_version(ws, reg, *champion_version);
  auto policy = gate::gate_policy(ws.config());
  train::EvalOptions eo;  // the options train_tracked scores with: both sides alike
  eo.threads = o.threads;
  eo.device = o.device;
  auto logger = [this, job](const std::string& line) { log(job, line); };

  std::optional<WorkerJob> worker;
  if (lease && provider->name() != "local") worker = worker_job(champion_version, warm);

  std::optional<train::EvalResult> champion_eval;
  std::optional<TrainOutputs> best;
  const std::uint64_t base_seed = opts.seed;
  for (int a = 1; a <= attempts; ++a) {
    opts.seed = base_seed + static_cast<std::uint64_t>(a - 1);
    log(job, fmt::format("attempt {}/{} (seed {})", a, attempts, opts.seed));
    TrackedRequest q{samples,
                     candidate_version,
                     opts,
                     st.run_id,
                     warm && champion ? &*champion : nullptr,
                     champion_version ? fmt::format("production (version {})", *champion_version) : "",
                     o.should_stop,
                     logger};
    if (worker) {
      leases.renew(*lease, fmt::format("attempt {}/{}", a, attempts));
      q.trainer = remote_trainer(ws, *provider, *lease, provider->worker_dir(), *worker, logger);
    }
    auto t = train_tracked(ws, reg, q);
    auto gate_start = std::chrono::steady_clock::now();
    if (champion && !champion_eval) champion_eval = train::evaluate(*champion, test, eo);
    auto d = gate::decide(t.test_eval ? *t.test_eval : train::evaluate(*t.model, test, eo),
                          champion_eval ? &*champion_eval : nullptr, policy);
    double gate_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - gate_start).count();
    auto rec = gate::record_decision(reg, d, t.model_version, champion_version, candidate_version, t.run_id);
    util::atomic_write(dir / fmt::format("decision-{}.json", a), rec.to_json().dump(2) + "\n");
    log(job, fmt::format("gate: {} — {} ({:.2f}s)", d.verdict, d.reason, gate_seconds));
    TrainOutputs out;
    out.improved = d.improved;
    out.dice = d.candidate["dice"].get<double>();
    out.iou = d.candidate["iou"].get<double>();
    out.run_id = t.run_id;
    out.model_version = t.model_version;
    out.decision_id = rec.id;
    out.reason = d.reason;
    out.champion_version = champion_version;
    if (!d.champion.is_null()) out.champion_dice = d.champion["dice"].get<double>();
    if (!best || d.improved || out.dice > best->dice) best = out;
    best->attempts = a;
    if (d.improved) break;
  }
  st.train = best;
  util::atomic_write(dir / "pr.md", pr_text(best->improved));
  end(job, JobStatus::kSuccess);
}

// On another machine the worker takes the candidate (and production's bundle, for a
// warm start) from the default remote: pushed here first.
WorkerJob Runner::worker_job(std::optional<int> champion_version, bool warm) {
  const JobId job = JobId::kTrain;
  auto remote = default_remote(ws);
  if (!remote)
    throw InvalidInput(
        "infra.provider {}: training runs on another machine, which takes its data from the default remote; add one "
        "(wms remote add NAME s3://BUCKET/PREFIX --default)",
        provider->name());
  remote->should_stop = o.should_stop;
  WorkerJob w;
  w.dataset_version = st.validate->candidate_version.value();
  w.workspace_config = util::read_file(ws.config_path());
  std::error_code ec;
  if (st.config_ref.empty())
    w.train_config = w.workspace_config;
  else if (fs::is_regular_file(st.config_ref, ec))
    w.train_config = util::read_file(st.config_ref);
  else
    w.preset = st.config_ref;
  w.device = train::kDeviceNames.name(o.device);
  SyncSet set{{data::Dataset(ws).get(w.dataset_version)}, {}};
  if (warm && champion_version)
    if (auto m = reg.find_model(*champion_version)) {
      set.bundles.push_back(m->bundle_md5);
      w.init_md5 = m->bundle_md5;
    }
  auto s = push_or_throw(*remote, set);
  log(job, remote->config().label() + ": " + s.text("pushed") + " (for the worker)");
  return w;
}

}  // namespace wms::pipeline
