#include <fmt/format.h>

#include <map>

#include "cli/command.hpp"
#include "cli/inputs.hpp"
#include "wms/pipeline/pipeline.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::cli {
namespace {

registry::Run require_run(registry::Registry& reg, const std::string& id) {
  auto r = reg.find_run(id);
  if (!r) throw NotFound("run '{}' does not exist (see `wms runs list`)", id);
  return *r;
}

std::string duration(const registry::Run& r) {
  double s = (r.ended > 0 ? r.ended : util::now_seconds()) - r.started;
  return s < 120 ? fmt::format("{:.0f}s", s) : fmt::format("{:.1f}m", s / 60);
}

// Last value of each metric of a run.
std::map<std::string, double> last_metrics(registry::Registry& reg, const std::string& run) {
  std::map<std::string, double> out;
  for (const auto& p : reg.metrics(run)) out[p.name] = p.value;
  return out;
}

}  // namespace

namespace {

struct ListArgs {
  int limit = 20;
  std::string kind;
};
struct ShowArgs {
  std::string id;
};
struct MetricsArgs {
  std::string id;
  std::string name;
};
struct LogsArgs {
  std::string id;
  std::string job;
};

}  // namespace

namespace {

void add_runs_list(CLI::App& runs, Globals& g, Commands& out) {
  auto* app = runs.add_subcommand("list", "runs, newest first");
  auto a = std::make_shared<ListArgs>();
  app->add_option("--limit,-n", a->limit, "how many")->capture_default_str();
  app->add_option("--kind", a->kind, "only runs of this kind (train, gate, pipeline, ...)");
  add_common_options(*app, g);
  out.push_back(
      {app, [a, &g] {
         auto ws = data::Workspace::open(g.workspace);
         auto reg = registry::open(ws);
         auto list = reg.list_runs(a->limit, a->kind);
         if (g.json) {
           nlohmann::json j = nlohmann::json::array();
           for (auto& r : list) j.push_back(r.to_json());
           print_json(j);
           return kExitOk;
         }
         if (list.empty())
           std::printf("no runs yet\n");
         else
           std::printf("%-34s %-9s %-10s %-20s %7s  %s\n", "RUN", "KIND", "STATUS", "STARTED", "TIME", "DATASET");
         for (auto& r : list)
           std::printf("%-34s %-9s %-10s %-20s %7s  %s\n", r.id.c_str(), r.kind.c_str(), r.status.c_str(),
                       util::iso_time(r.started).c_str(), duration(r).c_str(), r.dataset_version.substr(0, 10).c_str());
         return kExitOk;
       }});
}

void add_runs_show(CLI::App& runs, Globals& g, Commands& out) {
  auto* app = runs.add_subcommand("show", "one run: status, params, last metrics, artifacts, child runs");
  auto a = std::make_shared<ShowArgs>();
  app->add_option("ID", a->id, "run id or a unique prefix")->required();
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto reg = registry::open(ws);
                   auto r = require_run(reg, a->id);
                   auto metrics = last_metrics(reg, r.id);
                   auto artifacts = reg.artifacts(r.id);
                   auto children = reg.child_runs(r.id);
                   if (g.json) {
                     auto j = r.to_json();
                     j["metrics"] = metrics;
                     j["artifacts"] = nlohmann::json::array();
                     for (auto& a : artifacts)
                       j["artifacts"].push_back({{"name", a.name}, {"md5", a.md5}, {"size", a.size}});
                     j["children"] = nlohmann::json::array();
                     for (auto& c : children) j["children"].push_back(c.to_json());
                     print_json(j);
                     return kExitOk;
                   }
                   std::printf("run %s (%s) %s, started %s, %s\n", r.id.c_str(), r.kind.c_str(), r.status.c_str(),
                               util::iso_time(r.started).c_str(), duration(r).c_str());
                   if (!r.error.empty()) std::printf("error: %s\n", r.error.c_str());
                   std::printf("host %s  dataset %s  git %s\n  folder %s\n", r.host.c_str(), r.dataset_version.c_str(),
                               r.git_commit.empty() ? "-" : r.git_commit.c_str(), r.run_dir.c_str());
                   if (!r.params.empty()) {
                     std::printf("params:\n");
                     for (auto& [k, v] : r.params.items()) std::printf("  %-24s %s\n", k.c_str(), v.dump().c_str());
                   }
                   if (!metrics.empty()) {
                     std::printf("metrics (last value):\n");
                     for (auto& [k, v] : metrics) std::printf("  %-24s %.6g\n", k.c_str(), v);
                   }
                   for (auto& a : artifacts)
                     std::printf("artifact %s  md5 %s  %lld bytes\n", a.name.c_str(), a.md5.c_str(),
                                 static_cast<long long>(a.size));
                   for (auto& c : children)
                     std::printf("child %s (%s) %s\n", c.id.c_str(), c.kind.c_str(), c.status.c_str());
                   return kExitOk;
                 }});
}

void add_runs_metrics(CLI::App& runs, Globals& g, Commands& out) {
  auto* app = runs.add_subcommand("metrics", "a run's metric series as a table (step x metric) or JSON");
  auto a = std::make_shared<MetricsArgs>();
  app->add_option("ID", a->id, "run id or a unique prefix")->required();
  app->add_option("--name", a->name, "only this metric");
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto reg = registry::open(ws);
                   auto r = require_run(reg, a->id);
                   auto points = reg.metrics(r.id, a->name);
                   if (g.json) {
                     nlohmann::json j = nlohmann::json::object();
                     for (auto& p : points)
                       j[p.name].push_back({{"step", p.step}, {"value", p.value}, {"time", util::iso_time(p.time)}});
                     print_json(j);
                     return kExitOk;
                   }
                   std::map<std::int64_t, std::map<std::string, double>> table;
                   std::vector<std::string> names;
                   for (auto& p : points) {
                     if (std::find(names.begin(), names.end(), p.name) == names.end()) names.push_back(p.name);
                     table[p.step][p.name] = p.value;
                   }
                   std::printf("%6s", "step");
                   for (auto& n : names) std::printf(" %14s", n.c_str());
                   std::printf("\n");
                   for (auto& [step, row] : table) {
                     std::printf("%6lld", static_cast<long long>(step));
                     for (auto& n : names) {
                       auto it = row.find(n);
                       if (it == row.end())
                         std::printf(" %14s", "-");
                       else
                         std::printf(" %14.6g", it->second);
                     }
                     std::printf("\n");
                   }
                   return kExitOk;
                 }});
}

void add_runs_logs(CLI::App& runs, Globals& g, Commands& out) {
  auto* app = runs.add_subcommand("logs", "print a run's log (or one job's log)");
  auto a = std::make_shared<LogsArgs>();
  app->add_option("ID", a->id, "run id or a unique prefix")->required();
  app->add_option("--job", a->job, "only this job's log");
  add_common_options(*app, g, false);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto reg = registry::open(ws);
                   auto r = require_run(reg, a->id);
                   auto logs = pipeline::run_logs(r.run_dir, a->job);
                   for (auto& l : logs) {
                     if (logs.size() > 1) std::printf("==> %s <==\n", l.filename().c_str());
                     std::fputs(util::read_file(l).c_str(), stdout);
                   }
                   return kExitOk;
                 }});
}

}  // namespace

void add_runs(CLI::App& root, Globals& g, Commands& out) {
  auto* runs = root.add_subcommand("runs", "recorded runs: list, show, metrics, logs");
  runs->require_subcommand(1);
  add_runs_list(*runs, g, out);
  add_runs_show(*runs, g, out);
  add_runs_metrics(*runs, g, out);
  add_runs_logs(*runs, g, out);
}

}  // namespace wms::cli
