// train: up to pipeline.attempts trainings on the candidate dataset version, each
// gated against production on the same test split (production is scored once per
// run; each attempt's scores come from its own training run). The best attempt is the
// job's result; the first that improves ends the job.
//
// With several leased machines (infra.machines) the attempts run in parallel, one per
// machine, each machine taking the next attempt when its own ends: the first attempt
// that improves wins and the others are stopped (their runs are recorded cancelled).
// Attempt k keeps seed base + k - 1 wherever it runs, so each attempt is reproducible;
// which of two improving attempts wins depends on which finishes first.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

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
  const auto base_opts = [&] {
    auto t = train::train_options(train_config());
    t.threads = o.threads;
    t.device = o.device;
    return t;
  }();
  const int attempts = settings.attempts;
  const bool warm = settings.warm_start;
  data::Dataset ds(ws);
  const std::string candidate_version = st.validate->candidate_version.value();
  const auto samples = train::samples_from_version(ws, ds.get(candidate_version));
  const auto test = train::only(samples, data::Split::kTest);
  if (test.empty()) throw InvalidInput("gate: the test split is empty; add data before gating");
  const auto champion_version = reg.alias(registry::kProduction);
  std::optional<nn::Model> champion;
  if (champion_version) champion = registry::load_version(ws, reg, *champion_version);
  const auto policy = gate::gate_policy(ws.config());
  train::EvalOptions eo;  // the options train_tracked scores with: both sides alike
  eo.threads = o.threads;
  eo.device = o.device;
  train::DecodedPhotos test_photos;  // each test photo decoded once: every attempt and production read them
  eo.photos = &test_photos;
  auto logger = [this, job](const std::string& line) { log(job, line); };

  std::optional<WorkerJob> worker;
  if (!held.empty() && provider->name() != "local") worker = worker_job(champion_version, warm);
  // One slot per machine; here (the local provider) one slot in this thread.
  const std::size_t slots = worker ? held.size() : 1;

  // Production is scored once, by whoever needs it first (with remote slots: this
  // thread, while the machines train).
  std::mutex champion_mutex;
  std::optional<train::EvalResult> champion_eval;
  auto champion_scores = [&]() -> const train::EvalResult* {
    if (!champion) return nullptr;
    std::lock_guard<std::mutex> lock(champion_mutex);
    if (!champion_eval) champion_eval = train::evaluate(*champion, test, eo);
    return &*champion_eval;
  };

  std::atomic<int> next_attempt{1};
  std::atomic<int> started{0};
  std::atomic<int> winner{0};       // the attempt that improved first
  std::atomic<bool> halted{false};  // another slot failed: the others stop
  std::mutex result_mutex;
  std::optional<TrainOutputs> best;
  int best_attempt = 0;
  std::exception_ptr failure;
  auto stop_requested = [this] { return o.should_stop && o.should_stop(); };

  auto run_slot = [&](std::size_t slot) {
    // Each slot has its own registry connection and lease book (neither is shared
    // between threads).
    std::unique_ptr<registry::Registry> own_reg;
    if (slots > 1) own_reg = std::make_unique<registry::Registry>(registry::registry_location(ws));
    registry::Registry& r = own_reg ? *own_reg : reg;
    infra::Leases slot_leases(ws);
    while (true) {
      const int a = next_attempt.fetch_add(1);
      if (a > attempts || winner.load() != 0 || halted.load()) return;
      started.fetch_add(1);
      auto opts = base_opts;
      opts.seed = base_opts.seed + static_cast<std::uint64_t>(a - 1);
      log(job, fmt::format("attempt {}/{} (seed {}){}", a, attempts, opts.seed,
                           slots > 1 ? fmt::format(" on {}", held[slot].instance.address) : ""));
      TrackedRequest q{samples,
                       candidate_version,
                       opts,
                       st.run_id,
                       warm && champion ? &*champion : nullptr,
                       champion_version ? fmt::format("production (version {})", *champion_version) : "",
                       [&] { return stop_requested() || winner.load() != 0 || halted.load(); },
                       logger};
      q.test_photos = &test_photos;
      if (worker) {
        infra::Lease& lease = held[slot];
        slot_leases.renew(lease, fmt::format("attempt {}/{}", a, attempts));
        q.trainer = remote_trainer(ws, *provider, lease, provider->worker_dir(), *worker, logger);
      }
      std::optional<TrackedResult> t;
      try {
        t = train_tracked(ws, r, q);
      } catch (const Cancelled&) {
        if (stop_requested() || (winner.load() == 0 && !halted.load())) throw;
        log(job, winner.load() != 0 ? fmt::format("attempt {} stopped: attempt {} improved first", a, winner.load())
                                    : fmt::format("attempt {} stopped: another machine's attempt failed", a));
        return;
      }
      auto gate_start = std::chrono::steady_clock::now();
      const train::EvalResult* champion_side = champion_scores();
      auto d = gate::decide(t->test_eval ? *t->test_eval : train::evaluate(*t->model, test, eo), champion_side, policy);
      double gate_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - gate_start).count();
      auto rec = gate::record_decision(r, d, t->model_version, champion_version, candidate_version, t->run_id);
      util::atomic_write(dir / fmt::format("decision-{}.json", a), rec.to_json().dump(2) + "\n");
      log(job, fmt::format("gate: {} — {} (attempt {}, {:.2f}s)", d.verdict, d.reason, a, gate_seconds));
      TrainOutputs out;
      out.improved = d.improved;
      out.dice = d.candidate["dice"].get<double>();
      out.iou = d.candidate["iou"].get<double>();
      out.run_id = t->run_id;
      out.model_version = t->model_version;
      out.decision_id = rec.id;
      out.reason = d.reason;
      out.champion_version = champion_version;
      if (!d.champion.is_null()) out.champion_dice = d.champion["dice"].get<double>();
      std::lock_guard<std::mutex> lock(result_mutex);
      if (best && best->improved) continue;  // another attempt won meanwhile
      // The improving attempt wins; else the best Dice (the lower attempt on a tie).
      if (!best || d.improved || out.dice > best->dice || (out.dice == best->dice && a < best_attempt)) {
        best = out;
        best_attempt = a;
      }
      if (d.improved) winner.store(a);
    }
  };

  if (slots == 1) {
    run_slot(0);
  } else {
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < slots; ++i)
      threads.emplace_back([&, i] {
        try {
          run_slot(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(result_mutex);
          if (!failure) failure = std::current_exception();
          halted.store(true);  // stops the other machines' attempts
        }
      });
    try {
      champion_scores();  // while the machines train
    } catch (...) {
      std::lock_guard<std::mutex> lock(result_mutex);
      if (!failure) failure = std::current_exception();
      halted.store(true);
    }
    for (auto& t : threads) t.join();
    if (failure) std::rethrow_exception(failure);
  }
  if (!best) throw Cancelled("every attempt was stopped");
  best->attempts = started.load();
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
