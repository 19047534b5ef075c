#include "wms/registry/promotion.hpp"

#include "wms/registry/db.hpp"

#include <algorithm>
#include <cstdlib>

#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"

namespace wms::registry {
namespace {

// The original's record: log_production_metrics.py.
nlohmann::json production_record(Registry& reg, const ModelVersion& m) {
  nlohmann::json metrics = nlohmann::json::object(), params = nlohmann::json::object();
  double created = m.created;
  if (!m.run.empty())
    if (auto run = reg.find_run(m.run)) {
      created = run->started;
      for (auto& [k, v] : run->params.items()) params[k] = v.is_string() ? v.get<std::string>() : v.dump();
      for (const auto& p : reg.metrics(m.run)) metrics[p.name] = p.value;  // last value per name
    }
  for (auto& [k, v] : m.metrics.items())
    if (v.is_number()) metrics[k] = v.get<double>();
  return {{"version", m.version},
          {"run_id", m.run},
          {"stage", "Production"},
          {"timestamp", util::iso_time(util::now_seconds())},
          {"created_at", util::iso_time(created)},
          {"metrics", metrics},
          {"params", params}};
}

void export_production_files(const data::Workspace& ws, const nlohmann::json& record) {
  fs::path dir = ws.root() / ws.config().get_string("registry.export_dir", "models");
  util::make_dirs(dir);
  util::atomic_write(dir / "production_current.json", record.dump(2) + "\n");
  util::append_line(dir / "production_history.jsonl", record.dump());
}

}  // namespace

std::string registry_location(const data::Workspace& ws) {
  const char* env = std::getenv("WMS_REGISTRY_URL");
  std::string url = env && *env ? env : ws.config().get_string("registry.url", "");
  if (url.empty()) return ws.registry_db().string();
  if (!is_postgres_url(url))
    throw InvalidInput(
        "{}: '{}' is not a postgresql:// URL (leave registry.url unset for the workspace's own SQLite "
        "registry, {})",
        env && *env ? "WMS_REGISTRY_URL" : ws.config_path().string() + ": registry.url", redact_url(url),
        ws.registry_db().string());
  return url;
}

Registry open(const data::Workspace& ws) {
  return Registry(registry_location(ws));
}

std::string current_actor() {
  const char* u = std::getenv("USER");
  return u && *u ? u : "wms";
}

nn::Model load_version(const data::Workspace& ws, Registry& reg, int version) {
  auto m = reg.find_model(version);
  if (!m) throw NotFound("model version {} does not exist (see `wms models list`)", version);
  return nn::Model::from_bytes(ws.store().read(m->bundle_md5), fmt::format("model version {}", version));
}

int register_bundle(const data::Workspace& ws, Registry& reg, const nn::Model& model, const std::string& run,
                    const std::string& note) {
  std::string bytes = model.to_bytes();
  std::string md5 = ws.store().put_bytes(bytes);
  int v = reg.register_model(md5, run, model.info().dataset_version, model.info().metrics, note);
  if (!run.empty()) reg.add_artifact(run, "model.wms", md5, static_cast<std::int64_t>(bytes.size()));
  return v;
}

namespace {

std::int64_t move_production(const data::Workspace& ws, Registry& reg, int version, const std::string& actor,
                             const std::string& reason, std::optional<std::int64_t> decision,
                             const std::string& action) {
  if (reason.empty()) throw InvalidInput("{}: give a --reason (it is kept in the alias history)", action);
  load_version(ws, reg, version);  // refuse a version that fails to load
  auto current = reg.alias(kProduction);
  if (current && *current == version) throw Conflict("model version {} is already in production", version);
  // A promotion decided by the gate against a champion applies only while that champion
  // is still production (another machine sharing the registry may have moved it).
  std::optional<int> expected = current;
  if (decision)
    if (auto d = reg.find_decision(*decision)) expected = d->champion;
  std::int64_t event = reg.move_alias(kProduction, version, actor, reason, decision, kPrevious, action, expected);
  util::failpoint("promote.after_alias");
  export_production_files(ws, production_record(reg, *reg.find_model(version)));
  return event;
}

}  // namespace

std::vector<int> production_stack(Registry& reg) {
  std::vector<int> stack;
  for (const auto& e : reg.alias_history(kProduction)) {
    if (!e.version) {
      stack.clear();  // the alias was removed
    } else if (e.action == "rollback" && std::find(stack.begin(), stack.end(), *e.version) != stack.end()) {
      while (stack.back() != *e.version) stack.pop_back();
    } else {
      stack.push_back(*e.version);  // a promotion, or a rollback to a version outside the stack
    }
  }
  return stack;
}

std::int64_t promote(const data::Workspace& ws, Registry& reg, int version, const std::string& actor,
                     const std::string& reason, std::optional<std::int64_t> decision) {
  return move_production(ws, reg, version, actor, reason, decision, "promote");
}

int rollback(const data::Workspace& ws, Registry& reg, std::optional<int> to, const std::string& actor,
             const std::string& reason) {
  if (!reg.alias(kProduction)) throw NotFound("nothing to roll back: no model is in production");
  if (!to) {
    std::vector<int> stack = production_stack(reg);
    if (stack.size() < 2) throw NotFound("nothing to roll back to: production has no earlier version in its history");
    to = stack[stack.size() - 2];
  }
  move_production(ws, reg, *to, actor, reason.empty() ? "rollback" : reason, std::nullopt, "rollback");
  return *to;
}

std::optional<int> resolve_version(Registry& reg, const std::string& ref) {
  std::string s = ref;
  if (!s.empty() && (s[0] == 'v' || s[0] == 'V') && s.size() > 1 && std::isdigit(static_cast<unsigned char>(s[1])))
    s = s.substr(1);
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
    int v = std::stoi(s);
    if (!reg.find_model(v)) throw NotFound("model version {} does not exist (see `wms models list`)", v);
    return v;
  }
  if (!ref.empty() && ref.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos) {
    if (auto v = reg.alias(ref)) return v;
  }
  return std::nullopt;
}

}  // namespace wms::registry
