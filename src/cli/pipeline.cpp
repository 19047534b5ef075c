#include <fmt/format.h>

#include "cli/batch_args.hpp"
#include "cli/command.hpp"
#include "wms/infra/lease.hpp"
#include "wms/pipeline/pipeline.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/signals.hpp"

namespace wms::cli {
namespace {

std::string secs(double a, double b) {
  if (a <= 0) return "-";
  double s = (b > 0 ? b : util::now_seconds()) - a;
  return s < 120 ? fmt::format("{:.0f}s", s) : fmt::format("{:.1f}m", s / 60);
}

// Like `gh run view`: the jobs, their status, time and outputs.
void print_state(const pipeline::State& st) {
  std::printf("pipeline %s  %s  (%s)\n", st.run_id.c_str(),
              st.outcome ? pipeline::outcome_name(*st.outcome).c_str() : "running", secs(st.started, st.ended).c_str());
  std::printf("batch: %s + %s\n", st.images_dir.c_str(), st.masks_dir.c_str());
  for (const auto& j : st.jobs) {
    using S = pipeline::JobStatus;
    const char* mark = j.status == S::kSuccess     ? "ok  "
                       : j.status == S::kSkipped   ? "skip"
                       : j.status == S::kFailure   ? "FAIL"
                       : j.status == S::kRunning   ? "... "
                       : j.status == S::kCancelled ? "stop"
                                                   : "    ";
    std::printf("  %s %-20s %-10s %6s", mark, std::string(pipeline::job_name(j.id)).c_str(),
                std::string(pipeline::status_name(j.status)).c_str(), secs(j.started, j.ended).c_str());
    if (!j.reason.empty()) std::printf("  %s", j.reason.c_str());
    std::printf("\n");
    const nlohmann::json outputs = st.outputs_json(j.id);  // items() would not keep a temporary alive
    for (auto& [k, v] : outputs.items()) {
      if (k == "deliveries" || k == "reason") continue;
      std::printf("         %-18s %s\n", k.c_str(), v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
    }
  }
  if (!st.error.empty()) std::printf("error: %s\n", st.error.c_str());
}

int finish(const Globals& g, const pipeline::Result& r) {
  if (g.json) {
    auto j = r.state.to_json();
    j["exit_code"] = pipeline::outcome_exit_code(r.outcome, r.state.error_code);
    print_json(j);
  } else {
    std::printf("\n");
    print_state(r.state);
  }
  return pipeline::outcome_exit_code(r.outcome, r.state.error_code);
}

}  // namespace

namespace {

struct PipelineArgs {
  train::Device device = train::Device::kAuto;
  std::string config_ref;
  int attempts = 0;
  double wait = 0;
  BatchArgs batch;
  std::string id;
  int limit = 20;
};

using Args = std::shared_ptr<PipelineArgs>;

// The options of run and resume.
pipeline::Options options_of(const PipelineArgs& a, const Globals& g) {
  pipeline::Options o;
  o.config_ref = a.config_ref;
  o.attempts = a.attempts;
  o.threads = g.threads;
  o.device = a.device;
  o.wait_seconds = a.wait;
  o.should_stop = [] { return util::interrupted(); };
  o.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  return o;
}

void add_run_options(CLI::App* app, PipelineArgs& a) {
  app->add_option("--config,-c", a.config_ref, "training config file or preset (default: wms.yaml)");
  app->add_option("--attempts", a.attempts, "training attempts with different seeds (default: pipeline.attempts, 3)");
  app->add_option("--wait", a.wait, "seconds to wait for another pipeline on this workspace (default: refuse at once)");
  add_device_option(*app, a.device);
}

}  // namespace

namespace {

void add_pipeline_run(CLI::App* pl, const Args& a, Globals& g, Commands& out) {
  auto* app = pl->add_subcommand("run", "run the loop on a batch (DIR with images/ and masks/, or --images/--masks)");
  a->batch.add_to(*app);
  add_run_options(app, *a);
  add_common_options(*app, g, true, true);
  out.push_back({app, [a, &g] {
                   util::install_interrupt_handler();
                   auto ws = data::Workspace::open(g.workspace);
                   auto o = options_of(*a, g);
                   o.batch = a->batch.source();
                   return finish(g, pipeline::run(ws, o));
                 }});
}

void add_pipeline_resume(CLI::App* pl, const Args& a, Globals& g, Commands& out) {
  auto* app = pl->add_subcommand("resume", "continue an interrupted run from its first unfinished job");
  app->add_option("ID", a->id, "pipeline run id or unique prefix")->required();
  add_run_options(app, *a);
  add_common_options(*app, g, true, true);
  out.push_back({app, [a, &g] {
                   util::install_interrupt_handler();
                   auto ws = data::Workspace::open(g.workspace);
                   return finish(g, pipeline::resume(ws, a->id, options_of(*a, g)));
                 }});
}

void add_pipeline_show(CLI::App* pl, const Args& a, Globals& g, Commands& out) {
  auto* app = pl->add_subcommand("show", "a run's jobs, status, times and outputs (like `gh run view`)");
  app->add_option("ID", a->id, "pipeline run id or unique prefix")->required();
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto st = pipeline::load_state(ws, a->id);
                   if (g.json)
                     print_json(st.to_json());
                   else
                     print_state(st);
                   return kExitOk;
                 }});
}

void add_pipeline_list(CLI::App* pl, const Args& a, Globals& g, Commands& out) {
  auto* app = pl->add_subcommand("list", "pipeline runs, newest first, with their outcome");
  app->add_option("--limit,-n", a->limit)->capture_default_str();
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto reg = registry::open(ws);
                   nlohmann::json j = nlohmann::json::array();
                   if (!g.json)
                     std::printf("%-36s %-10s %-13s %-20s %7s  %s\n", "RUN", "STATUS", "OUTCOME", "STARTED", "TIME",
                                 "BATCH");
                   for (auto& r : reg.list_runs(a->limit, "pipeline")) {
                     std::string outcome = r.tags.value("outcome", "");
                     j.push_back(r.to_json());
                     if (!g.json)
                       std::printf("%-36s %-10s %-13s %-20s %7s  %s\n", r.id.c_str(), r.status.c_str(), outcome.c_str(),
                                   util::iso_time(r.started).c_str(), secs(r.started, r.ended).c_str(),
                                   r.params.value("images", nlohmann::json("")).get<std::string>().c_str());
                   }
                   if (g.json) print_json(j);
                   return kExitOk;
                 }});
}

void add_pipeline_submissions(CLI::App* pl, const Args& a, Globals& g, Commands& out) {
  auto* app = pl->add_subcommand("submissions", "batches that did not improve the model (kept for review or retry)");
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto subs = pipeline::submissions(ws);
                   if (g.json) {
                     print_json(subs);
                     return kExitOk;
                   }
                   if (subs.empty()) std::printf("no rejected submissions\n");
                   for (auto& s : subs)
                     std::printf(
                         "%s  %s  %s  dice %s  (retry: wms pipeline run --images %s --masks %s)\n",
                         s.value("time", "").c_str(), s.value("run_id", "").c_str(), s.value("status", "").c_str(),
                         s["train"].contains("dice") ? fmt::format("{:.4f}", s["train"]["dice"].get<double>()).c_str()
                                                     : "-",
                         s.value("images", "").c_str(), s.value("masks", "").c_str());
                   return kExitOk;
                 }});
}

}  // namespace

void add_pipeline(CLI::App& root, Globals& g, Commands& out) {
  auto* pl = root.add_subcommand("pipeline", "the continuous-training loop: validate, train, gate, promote, notify");
  pl->require_subcommand(1);
  pl->footer(
      fmt::format("Exit codes of run/resume: {} improved (promoted), {} not improved (batch kept as a rejected "
                  "submission), {} invalid data (nothing changed), 130 cancelled; a failure exits with its "
                  "error's code (see wms --help).",
                  kExitOk, kExitNotImproved, kExitDataInvalid));
  auto a = std::make_shared<PipelineArgs>();
  add_pipeline_run(pl, a, g, out);
  add_pipeline_resume(pl, a, g, out);
  add_pipeline_show(pl, a, g, out);
  add_pipeline_list(pl, a, g, out);
  add_pipeline_submissions(pl, a, g, out);
}

void add_infra(CLI::App& root, Globals& g, Commands& out) {
  auto* infra = root.add_subcommand("infra", "compute leases: list them, release those of dead runs");
  infra->require_subcommand(1);
  {
    auto* app = infra->add_subcommand(
        "leases", "compute held by runs: provider, machine, held time and cost so far ('stale': its holder died)");
    add_common_options(*app, g);
    out.push_back({app, [&g] {
                     auto ws = data::Workspace::open(g.workspace);
                     nlohmann::json j = nlohmann::json::array();
                     double now = util::now_seconds();
                     for (auto& l : infra::Leases(ws).list()) {
                       auto x = l.to_json();
                       x["stale"] = !infra::process_alive(l.pid, l.pid_start);
                       x["held_seconds"] = l.held_seconds(now);
                       x["cost"] = l.cost(now);
                       j.push_back(x);
                       if (!g.json)
                         std::printf("%s  %s %s (%s)  run %s  pid %d  held %.0fs  cost %.4f  expires %s%s\n",
                                     l.id.c_str(), l.instance.provider.c_str(),
                                     l.instance.id.empty() ? "(not yet known)" : l.instance.id.c_str(),
                                     l.instance.type.c_str(), l.run_id.c_str(), l.pid, l.held_seconds(now), l.cost(now),
                                     util::iso_time(l.expires).c_str(),
                                     x["stale"].get<bool>() ? "  (stale: its process is gone)" : "");
                     }
                     if (g.json)
                       print_json(j);
                     else if (j.empty())
                       std::printf("no leases\n");
                     return kExitOk;
                   }});
  }
  {
    auto* app = infra->add_subcommand(
        "reap", "stop machines no live lease holds: dead runs (kill -9), expired leases, untracked tagged machines");
    auto grace = std::make_shared<double>(300);
    app->add_option("--grace", *grace, "seconds a machine's state may stay unreadable before it is stopped")
        ->capture_default_str();
    add_common_options(*app, g);
    out.push_back({app, [&g, grace] {
                     auto ws = data::Workspace::open(g.workspace);
                     auto provider = infra::make_provider(ws);
                     auto reaped = infra::Leases(ws).reap(*provider, *grace);
                     nlohmann::json j = nlohmann::json::array();
                     for (auto& r : reaped) {
                       j.push_back(r.to_json());
                       if (!g.json)
                         std::printf("stopped %s %s (lease %s): %s\n", r.instance.provider.c_str(),
                                     r.instance.id.c_str(), r.lease_id.c_str(), r.reason.c_str());
                     }
                     if (g.json)
                       print_json(j);
                     else
                       std::printf("reaped %zu\n", reaped.size());
                     return kExitOk;
                   }});
  }
}

}  // namespace wms::cli
