#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/inputs.hpp"
#include "wms/pipeline/sync.hpp"
#include "wms/registry/project_lock.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"

namespace wms::cli {
namespace {

int require_version(registry::Registry& reg, const std::string& ref) {
  auto v = registry::resolve_version(reg, ref);
  if (!v) throw NotFound("'{}' is not a model version or a set alias (see `wms models list`)", ref);
  return *v;
}

std::string metric(const nlohmann::json& m, const char* key) {
  return m.contains(key) && m[key].is_number() ? fmt::format("{:.4f}", m[key].get<double>()) : "-";
}

}  // namespace

namespace {

struct RegisterArgs {
  std::string bundle;
  std::string note;
};
struct ShowArgs {
  std::string ref;
};
struct PromoteArgs {
  std::string ref;
  std::string reason;
};
struct RollbackArgs {
  std::string ref;
  std::string reason;
};
struct HistoryArgs {
  std::string alias = "production";
  std::string at;
};
struct LineageArgs {
  std::string ref;
  std::string dataset;
};

}  // namespace

namespace {

void add_models_list(CLI::App& models, Globals& g, Commands& out) {
  auto* app = models.add_subcommand("list", "model versions, newest first, with their aliases");
  add_common_options(*app, g);
  out.push_back({app, [&g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto reg = registry::open(ws);
                   auto list = reg.list_models();
                   if (g.json) {
                     nlohmann::json j = nlohmann::json::array();
                     for (auto& m : list) j.push_back(m.to_json());
                     print_json(j);
                     return kExitOk;
                   }
                   if (list.empty())
                     std::printf("no model versions yet (train one with `wms train`)\n");
                   else
                     std::printf("%-8s %-20s %-8s %-8s %-12s %-34s %s\n", "VERSION", "CREATED", "DICE", "IOU",
                                 "DATASET", "RUN", "ALIASES");
                   for (auto& m : list)
                     std::printf("%-8d %-20s %-8s %-8s %-12s %-34s %s\n", m.version, util::iso_time(m.created).c_str(),
                                 metric(m.metrics, "test_dice").c_str(), metric(m.metrics, "test_iou").c_str(),
                                 m.dataset_version.substr(0, 10).c_str(), m.run.c_str(),
                                 fmt::format("{}", fmt::join(m.aliases, ",")).c_str());
                   return kExitOk;
                 }});
}

void add_models_register(CLI::App& models, Globals& g, Commands& out) {
  auto* app = models.add_subcommand("register",
                                    "add a bundle (e.g. from `wms model import production.pth`) "
                                    "as a new model version");
  auto a = std::make_shared<RegisterArgs>();
  app->add_option("BUNDLE", a->bundle, "model bundle")->required();
  app->add_option("--note", a->note, "kept with the version");
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto lock = ws.lock();
                   auto reg = registry::open(ws);
                   int v = registry::register_bundle(ws, reg, nn::Model::load(a->bundle), "",
                                                     a->note.empty() ? "registered " + a->bundle : a->note);
                   if (g.json)
                     print_json({{"version", v}});
                   else
                     std::printf("registered %s as model version %d\n", a->bundle.c_str(), v);
                   return kExitOk;
                 }});
}

void add_models_show(CLI::App& models, Globals& g, Commands& out) {
  auto* app = models.add_subcommand("show", "one version: metrics, run, dataset, aliases, bundle info");
  auto a = std::make_shared<ShowArgs>();
  app->add_option("VERSION", a->ref, "version number or alias")->required();
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto reg = registry::open(ws);
                   int v = require_version(reg, a->ref);
                   auto m = *reg.find_model(v);
                   auto j = m.to_json();
                   j["bundle"] = registry::load_version(ws, reg, v).info().to_json();
                   print_json(j);
                   return kExitOk;
                 }});
}

// With a default remote, the bundle is there before production points at it: servers on
// other machines (a shared registry) fetch it from the remote.
void push_bundle(const data::Workspace& ws, registry::Registry& reg, int version) {
  auto remote = pipeline::default_remote(ws);
  auto m = reg.find_model(version);
  if (!remote || !m) return;
  auto s = pipeline::push_or_throw(*remote, {{}, {m->bundle_md5}});
  std::fprintf(stderr, "%s: %s\n", remote->config().label().c_str(), s.text("pushed").c_str());
}

void add_models_promote(CLI::App& models, Globals& g, Commands& out) {
  auto* app = models.add_subcommand("promote", "make a version production (it must load); recorded with a reason");
  auto a = std::make_shared<PromoteArgs>();
  app->add_option("VERSION", a->ref, "version number")->required();
  app->add_option("--reason,-r", a->reason, "why (kept in the alias history)")->required();
  add_common_options(*app, g);
  out.push_back(
      {app, [a, &g] {
         auto ws = data::Workspace::open(g.workspace);
         registry::ProjectLock lock(ws, 0, "promotion");
         auto reg = registry::open(ws);
         int v = require_version(reg, a->ref);
         auto before = reg.alias(registry::kProduction);
         push_bundle(ws, reg, v);
         registry::promote(ws, reg, v, registry::current_actor(), a->reason);
         if (g.json)
           print_json({{"production", v}, {"previous", before ? nlohmann::json(*before) : nlohmann::json(nullptr)}});
         else
           std::printf("production: version %d (was %s)\n", v, before ? std::to_string(*before).c_str() : "none");
         return kExitOk;
       }});
}

void add_models_rollback(CLI::App& models, Globals& g, Commands& out) {
  auto* app = models.add_subcommand("rollback", "move production back to the version before it (or to VERSION)");
  auto a = std::make_shared<RollbackArgs>();
  app->add_option("VERSION", a->ref, "version to restore (default: the previous production)");
  app->add_option("--reason,-r", a->reason, "why")->default_val("rollback");
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   registry::ProjectLock lock(ws, 0, "rollback");
                   auto reg = registry::open(ws);
                   std::optional<int> to;
                   if (!a->ref.empty()) to = require_version(reg, a->ref);
                   int v = registry::rollback(ws, reg, to, registry::current_actor(), a->reason);
                   if (g.json)
                     print_json({{"production", v}});
                   else
                     std::printf("production: version %d\n", v);
                   return kExitOk;
                 }});
}

void add_models_history(CLI::App& models, Globals& g, Commands& out) {
  auto* app = models.add_subcommand("history",
                                    "every move of an alias (default production); --at TIME answers "
                                    "which version it was then");
  auto a = std::make_shared<HistoryArgs>();
  app->add_option("--alias", a->alias, "alias")->capture_default_str();
  app->add_option("--at", a->at, "a UTC time, e.g. 2026-03-01T12:00:00Z");
  add_common_options(*app, g);
  out.push_back(
      {app, [a, &g] {
         auto ws = data::Workspace::open(g.workspace);
         auto reg = registry::open(ws);
         if (!a->at.empty()) {
           auto v = reg.alias_at(a->alias, util::parse_iso_time(a->at));
           if (g.json)
             print_json(
                 {{"alias", a->alias}, {"at", a->at}, {"version", v ? nlohmann::json(*v) : nlohmann::json(nullptr)}});
           else
             std::printf("%s at %s: %s\n", a->alias.c_str(), a->at.c_str(),
                         v ? ("version " + std::to_string(*v)).c_str() : "none");
           return kExitOk;
         }
         auto events = reg.alias_history(a->alias);
         if (g.json) {
           nlohmann::json j = nlohmann::json::array();
           for (auto& e : events) j.push_back(e.to_json());
           print_json(j);
           return kExitOk;
         }
         if (events.empty()) std::printf("%s has never been set\n", a->alias.c_str());
         for (auto& e : events)
           std::printf("%s  %-8s %s -> %s  by %s: %s%s\n", util::iso_time(e.time).c_str(), e.action.c_str(),
                       e.previous ? std::to_string(*e.previous).c_str() : "none",
                       e.version ? std::to_string(*e.version).c_str() : "none", e.actor.c_str(), e.reason.c_str(),
                       e.decision ? fmt::format(" (decision {})", *e.decision).c_str() : "");
         return kExitOk;
       }});
}

void add_models_lineage(CLI::App& models, Globals& g, Commands& out) {
  auto* app = models.add_subcommand("lineage", "dataset version -> run -> model -> decisions and promotions");
  auto a = std::make_shared<LineageArgs>();
  app->add_option("VERSION", a->ref, "model version or alias");
  app->add_option("--dataset", a->dataset, "instead: everything trained on this dataset version");
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto reg = registry::open(ws);
                   if (!a->dataset.empty()) {
                     data::Dataset ds(ws);
                     print_json(reg.lineage_of_dataset(ds.get(a->dataset).id));
                   } else {
                     if (a->ref.empty()) throw InvalidInput("give a model VERSION or --dataset D");
                     print_json(reg.lineage_of_model(require_version(reg, a->ref)));
                   }
                   return kExitOk;
                 }});
}

}  // namespace

void add_models(CLI::App& root, Globals& g, Commands& out) {
  auto* models = root.add_subcommand("models", "registered model versions and the production alias");
  models->require_subcommand(1);
  add_models_list(*models, g, out);
  add_models_register(*models, g, out);
  add_models_show(*models, g, out);
  add_models_promote(*models, g, out);
  add_models_rollback(*models, g, out);
  add_models_history(*models, g, out);
  add_models_lineage(*models, g, out);
}

}  // namespace wms::cli
