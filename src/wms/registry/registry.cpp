#include "wms/registry/registry.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <random>

#include "wms/registry/sqlite.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"

namespace wms::registry {
namespace {

// Schema migrations, applied in order; user_version = how many have run. Never edit a
// released step: add a new one.
const char* kMigrations[] = {
    // 1: runs and what they record.
    R"(CREATE TABLE runs(
         id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,
         started REAL NOT NULL, ended REAL, host TEXT, git_commit TEXT,
         parent TEXT REFERENCES runs(id), dataset_version TEXT, run_dir TEXT, error TEXT);
       CREATE INDEX runs_started ON runs(started);
       CREATE TABLE params(run TEXT NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value TEXT NOT NULL,
                           PRIMARY KEY(run, key));
       CREATE TABLE tags(run TEXT NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value TEXT NOT NULL,
                         PRIMARY KEY(run, key));
       CREATE TABLE metrics(run TEXT NOT NULL REFERENCES runs(id), name TEXT NOT NULL, step INTEGER NOT NULL,
                            value REAL NOT NULL, time REAL NOT NULL);
       CREATE INDEX metrics_run ON metrics(run, name, step);
       CREATE TABLE artifacts(run TEXT NOT NULL REFERENCES runs(id), name TEXT NOT NULL, md5 TEXT NOT NULL,
                              size INTEGER NOT NULL, PRIMARY KEY(run, name));)",
    // 2: model versions, aliases as events, gate decisions.
    R"(CREATE TABLE models(
         version INTEGER PRIMARY KEY AUTOINCREMENT, bundle_md5 TEXT NOT NULL, run TEXT REFERENCES runs(id),
         dataset_version TEXT, metrics TEXT NOT NULL, created REAL NOT NULL, note TEXT);
       CREATE TABLE decisions(
         id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, candidate INTEGER REFERENCES models(version),
         champion INTEGER REFERENCES models(version), dataset_version TEXT, run TEXT, verdict TEXT NOT NULL,
         reason TEXT NOT NULL, body TEXT NOT NULL);
       CREATE TABLE alias_events(
         id INTEGER PRIMARY KEY AUTOINCREMENT, alias TEXT NOT NULL, version INTEGER REFERENCES models(version),
         previous INTEGER, time REAL NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,
         decision INTEGER REFERENCES decisions(id));
       CREATE INDEX alias_events_alias ON alias_events(alias, time);)",
    // 3: what each alias move was: 'promote' (also every earlier event), 'rollback' (a
    // step back: replaying the history pops the versions rolled away from).
    R"(ALTER TABLE alias_events ADD COLUMN action TEXT NOT NULL DEFAULT 'promote';)",
};
constexpr int kMigrationCount = sizeof(kMigrations) / sizeof(kMigrations[0]);
static_assert(kMigrationCount == Registry::kSchemaVersion);

int user_version(Db& db) {
  Stmt s(db, "PRAGMA user_version");
  return s.step() ? static_cast<int>(s.int64(0)) : 0;
}

void migrate(Db& db, int target) {
  int v = user_version(db);
  if (v > kMigrationCount)
    throw Conflict("{}: registry schema {} is newer than this wms understands ({}); upgrade wms", db.path().string(), v,
                   kMigrationCount);
  while (v < target) {
    Transaction t(db);
    if (user_version(db) != v) return migrate(db, target);  // another process migrated meanwhile
    db.exec(kMigrations[v]);
    db.exec(fmt::format("PRAGMA user_version = {}", v + 1));
    t.commit();
    ++v;
  }
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

nlohmann::json parse_json(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  return j.is_discarded() ? nlohmann::json(s) : j;
}

std::optional<int> opt_int(const Stmt& s, int col) {
  return s.is_null(col) ? std::nullopt : std::optional<int>(static_cast<int>(s.int64(col)));
}

}  // namespace

struct Registry::Impl {
  explicit Impl(const fs::path& p) : db(p) {}
  Db db;

  Run read_run(Stmt& s) {
    Run r;
    r.id = s.text(0);
    r.kind = s.text(1);
    r.status = s.text(2);
    r.started = s.real(3);
    r.ended = s.is_null(4) ? 0 : s.real(4);
    r.host = s.text(5);
    r.git_commit = s.text(6);
    r.parent = s.text(7);
    r.dataset_version = s.text(8);
    r.run_dir = s.text(9);
    r.error = s.text(10);
    Stmt p(db, "SELECT key, value FROM params WHERE run = ? ORDER BY key");
    p.bind(1, r.id);
    while (p.step()) r.params[p.text(0)] = parse_json(p.text(1));
    Stmt t(db, "SELECT key, value FROM tags WHERE run = ? ORDER BY key");
    t.bind(1, r.id);
    while (t.step()) r.tags[t.text(0)] = t.text(1);
    return r;
  }

  ModelVersion read_model(Stmt& s) {
    ModelVersion m;
    m.version = static_cast<int>(s.int64(0));
    m.bundle_md5 = s.text(1);
    m.run = s.text(2);
    m.dataset_version = s.text(3);
    m.metrics = parse_json(s.text(4));
    m.created = s.real(5);
    m.note = s.text(6);
    // Current aliases: the latest event of each alias points here.
    Stmt a(db, R"(SELECT alias FROM alias_events e WHERE id = (SELECT MAX(id) FROM alias_events WHERE alias = e.alias)
                  AND version = ? ORDER BY alias)");
    a.bind(1, m.version);
    while (a.step()) m.aliases.push_back(a.text(0));
    return m;
  }

  AliasEvent read_event(Stmt& s) {
    AliasEvent e;
    e.id = s.int64(0);
    e.alias = s.text(1);
    e.version = opt_int(s, 2);
    e.previous = opt_int(s, 3);
    e.time = s.real(4);
    e.actor = s.text(5);
    e.reason = s.text(6);
    if (!s.is_null(7)) e.decision = s.int64(7);
    e.action = s.text(8);
    return e;
  }

  DecisionRecord read_decision(Stmt& s) {
    DecisionRecord d;
    d.id = s.int64(0);
    d.time = s.real(1);
    d.candidate = opt_int(s, 2);
    d.champion = opt_int(s, 3);
    d.dataset_version = s.text(4);
    d.run = s.text(5);
    d.verdict = s.text(6);
    d.reason = s.text(7);
    d.body = parse_json(s.text(8));
    return d;
  }
};

nlohmann::json Run::to_json() const {
  return {{"id", id},
          {"kind", kind},
          {"status", status},
          {"started", util::iso_time(started)},
          {"ended", ended > 0 ? nlohmann::json(util::iso_time(ended)) : nlohmann::json(nullptr)},
          {"seconds", ended > 0 ? ended - started : util::now_seconds() - started},
          {"host", host},
          {"git_commit", git_commit},
          {"parent", parent},
          {"dataset_version", dataset_version},
          {"run_dir", run_dir},
          {"error", error},
          {"params", params},
          {"tags", tags}};
}

nlohmann::json ModelVersion::to_json() const {
  return {
      {"version", version}, {"bundle_md5", bundle_md5},           {"run", run},   {"dataset_version", dataset_version},
      {"metrics", metrics}, {"created", util::iso_time(created)}, {"note", note}, {"aliases", aliases}};
}

nlohmann::json AliasEvent::to_json() const {
  return {{"id", id},
          {"alias", alias},
          {"version", version ? nlohmann::json(*version) : nlohmann::json(nullptr)},
          {"previous", previous ? nlohmann::json(*previous) : nlohmann::json(nullptr)},
          {"time", util::iso_time(time)},
          {"actor", actor},
          {"reason", reason},
          {"decision", decision ? nlohmann::json(*decision) : nlohmann::json(nullptr)},
          {"action", action}};
}

nlohmann::json DecisionRecord::to_json() const {
  nlohmann::json j = body;
  j["id"] = id;
  j["time"] = util::iso_time(time);
  j["candidate"] = candidate ? nlohmann::json(*candidate) : nlohmann::json(nullptr);
  j["champion"] = champion ? nlohmann::json(*champion) : nlohmann::json(nullptr);
  j["dataset_version"] = dataset_version;
  j["run"] = run;
  j["verdict"] = verdict;
  j["reason"] = reason;
  return j;
}

Registry::Registry(const fs::path& db_path) : impl_(std::make_unique<Impl>(db_path)) {
  try {
    migrate(impl_->db, kSchemaVersion);
  } catch (const Internal& e) {
    throw Corrupt("{}: not a wms registry database ({})", db_path.string(), e.what());
  }
}

Registry::~Registry() = default;

int Registry::schema_version() {
  return user_version(impl_->db);
}

void Registry::create_at_version(const fs::path& db_path, int version) {
  Db db(db_path);
  migrate(db, version);
}

std::string Registry::create_run(const NewRun& r) {
  std::string stamp = util::utc_now("%Y%m%d-%H%M%S");
  // The suffix tells apart runs started in the same second. random_device alone is not
  // enough (some CPUs' RDRAND returns a constant), so the pid and the clock are mixed
  // in, and a suffix already taken is drawn again under the write lock.
  static thread_local std::mt19937 rng = [] {
    std::random_device rd;
    auto tick = std::chrono::steady_clock::now().time_since_epoch().count();
    std::seed_seq seq{rd(), rd(), static_cast<unsigned>(::getpid()), static_cast<unsigned>(tick),
                      static_cast<unsigned>(tick >> 32)};
    return std::mt19937(seq);
  }();
  Transaction t(impl_->db);
  std::string id;
  Stmt taken(impl_->db, "SELECT 1 FROM runs WHERE id = ?");
  do {
    id = fmt::format("{}-{}-{:04x}", r.kind, stamp, rng() & 0xffff);
    taken.reset();
    taken.bind(1, id);
  } while (taken.step());
  Stmt s(impl_->db, R"(INSERT INTO runs(id, kind, status, started, host, git_commit, parent, dataset_version, run_dir)
                       VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?))");
  s.bind(1, id)
      .bind(2, r.kind)
      .bind(3, kRunning)
      .bind(4, util::now_seconds())
      .bind(5, host_name())
      .bind(6, r.git_commit);
  if (r.parent.empty())
    s.bind_null(7);
  else
    s.bind(7, r.parent);
  s.bind(8, r.dataset_version).bind(9, r.run_dir);
  s.run();
  t.commit();
  return id;
}

void Registry::finish_run(const std::string& id, const std::string& status, const std::string& error) {
  Transaction t(impl_->db);
  Stmt s(impl_->db, "UPDATE runs SET status = ?, ended = ?, error = ? WHERE id = ?");
  s.bind(1, status).bind(2, util::now_seconds()).bind(3, error).bind(4, id).run();
  t.commit();
}

void Registry::log_params(const std::string& id, const nlohmann::json& params) {
  Transaction t(impl_->db);
  Stmt s(impl_->db, "INSERT OR REPLACE INTO params(run, key, value) VALUES(?, ?, ?)");
  for (auto& [k, v] : params.items()) {
    s.bind(1, id).bind(2, k).bind(3, v.dump()).run();
    s.reset();
  }
  t.commit();
}

void Registry::set_tag(const std::string& id, const std::string& key, const std::string& value) {
  Transaction t(impl_->db);
  Stmt(impl_->db, "INSERT OR REPLACE INTO tags(run, key, value) VALUES(?, ?, ?)")
      .bind(1, id)
      .bind(2, key)
      .bind(3, value)
      .run();
  t.commit();
}

void Registry::set_run_dataset(const std::string& id, const std::string& dataset_version) {
  Transaction t(impl_->db);
  Stmt(impl_->db, "UPDATE runs SET dataset_version = ? WHERE id = ?").bind(1, dataset_version).bind(2, id).run();
  t.commit();
}

void Registry::set_run_dir(const std::string& id, const std::string& run_dir) {
  Transaction t(impl_->db);
  Stmt(impl_->db, "UPDATE runs SET run_dir = ? WHERE id = ?").bind(1, run_dir).bind(2, id).run();
  t.commit();
}

void Registry::log_metric(const std::string& id, const std::string& name, std::int64_t step, double value) {
  log_metrics(id, step, {{name, value}});
}

void Registry::log_metrics(const std::string& id, std::int64_t step, const nlohmann::json& values) {
  Transaction t(impl_->db);
  Stmt s(impl_->db, "INSERT INTO metrics(run, name, step, value, time) VALUES(?, ?, ?, ?, ?)");
  double now = util::now_seconds();
  for (auto& [k, v] : values.items()) {
    if (!v.is_number()) continue;
    s.bind(1, id).bind(2, k).bind(3, step).bind(4, v.get<double>()).bind(5, now).run();
    s.reset();
    util::failpoint("registry.mid_metrics");
  }
  t.commit();
}

void Registry::add_artifact(const std::string& id, const std::string& name, const std::string& md5, std::int64_t size) {
  Transaction t(impl_->db);
  Stmt(impl_->db, "INSERT OR REPLACE INTO artifacts(run, name, md5, size) VALUES(?, ?, ?, ?)")
      .bind(1, id)
      .bind(2, name)
      .bind(3, md5)
      .bind(4, size)
      .run();
  t.commit();
}

static const char* kRunColumns =
    "id, kind, status, started, ended, host, git_commit, parent, dataset_version, run_dir, error";

std::vector<Run> Registry::list_runs(int limit, const std::string& kind) {
  std::string sql = fmt::format("SELECT {} FROM runs {} ORDER BY started DESC, id DESC LIMIT ?", kRunColumns,
                                kind.empty() ? "" : "WHERE kind = ?");
  Stmt s(impl_->db, sql.c_str());
  int i = 1;
  if (!kind.empty()) s.bind(i++, kind);
  s.bind(i, limit);
  std::vector<Run> out;
  while (s.step()) out.push_back(impl_->read_run(s));
  return out;
}

std::optional<Run> Registry::find_run(const std::string& ref) {
  std::string sql =
      fmt::format("SELECT {} FROM runs WHERE id = ? OR id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 2", kRunColumns);
  Stmt s(impl_->db, sql.c_str());
  std::string like;
  for (char c : ref) {
    if (c == '%' || c == '_' || c == '\\') like += '\\';
    like += c;
  }
  s.bind(1, ref).bind(2, like + "%");
  std::vector<Run> found;
  while (s.step()) found.push_back(impl_->read_run(s));
  for (auto& r : found)
    if (r.id == ref) return r;
  if (found.size() > 1) throw InvalidInput("run '{}' is ambiguous; give more of its id", ref);
  if (found.empty()) return std::nullopt;
  return found[0];
}

std::vector<Run> Registry::child_runs(const std::string& parent) {
  std::string sql = fmt::format("SELECT {} FROM runs WHERE parent = ? ORDER BY started, id", kRunColumns);
  Stmt s(impl_->db, sql.c_str());
  s.bind(1, parent);
  std::vector<Run> out;
  while (s.step()) out.push_back(impl_->read_run(s));
  return out;
}

std::vector<MetricPoint> Registry::metrics(const std::string& run_id, const std::string& name) {
  Stmt s(impl_->db,
         name.empty() ? "SELECT name, step, value, time FROM metrics WHERE run = ? ORDER BY name, step, rowid"
                      : "SELECT name, step, value, time FROM metrics WHERE run = ? AND name = ? ORDER BY step, rowid");
  s.bind(1, run_id);
  if (!name.empty()) s.bind(2, name);
  std::vector<MetricPoint> out;
  while (s.step()) out.push_back({s.text(0), s.int64(1), s.real(2), s.real(3)});
  return out;
}

std::vector<Artifact> Registry::artifacts(const std::string& run_id) {
  Stmt s(impl_->db, "SELECT name, md5, size FROM artifacts WHERE run = ? ORDER BY name");
  s.bind(1, run_id);
  std::vector<Artifact> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.int64(2)});
  return out;
}

int Registry::register_model(const std::string& bundle_md5, const std::string& run, const std::string& dataset_version,
                             const nlohmann::json& metrics, const std::string& note) {
  Transaction t(impl_->db);
  Stmt s(impl_->db,
         "INSERT INTO models(bundle_md5, run, dataset_version, metrics, created, note) VALUES(?, ?, ?, ?, ?, ?)");
  s.bind(1, bundle_md5);
  if (run.empty())
    s.bind_null(2);
  else
    s.bind(2, run);
  s.bind(3, dataset_version).bind(4, metrics.dump()).bind(5, util::now_seconds()).bind(6, note).run();
  int v = static_cast<int>(impl_->db.last_insert_id());
  t.commit();
  return v;
}

std::optional<ModelVersion> Registry::find_model(int version) {
  Stmt s(impl_->db,
         "SELECT version, bundle_md5, run, dataset_version, metrics, created, note FROM models WHERE version = ?");
  s.bind(1, version);
  if (!s.step()) return std::nullopt;
  return impl_->read_model(s);
}

std::vector<ModelVersion> Registry::list_models() {
  Stmt s(impl_->db,
         "SELECT version, bundle_md5, run, dataset_version, metrics, created, note FROM models ORDER BY version DESC");
  std::vector<ModelVersion> out;
  while (s.step()) out.push_back(impl_->read_model(s));
  return out;
}

std::int64_t Registry::move_alias(const std::string& alias, std::optional<int> version, const std::string& actor,
                                  const std::string& reason, std::optional<std::int64_t> decision,
                                  const std::string& displaced, const std::string& action) {
  if (action != "promote" && action != "rollback") throw Internal("move_alias: unknown action '{}'", action);
  if (alias.empty() || alias.size() > 64 ||
      alias.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos)
    throw InvalidInput("alias '{}': use 1-64 lower-case letters, digits, '-' or '_'", alias);
  Transaction t(impl_->db);
  if (version && !find_model(*version)) throw NotFound("model version {} does not exist", *version);
  std::optional<int> previous = this->alias(alias);
  Stmt s(impl_->db,
         "INSERT INTO alias_events(alias, version, previous, time, actor, reason, decision, action) "
         "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
  double now = util::now_seconds();
  if (!displaced.empty() && previous && previous != version) {
    std::optional<int> before = this->alias(displaced);
    s.bind(1, displaced).bind(2, previous).bind(3, before).bind(4, now).bind(5, actor);
    s.bind(6, fmt::format("{} moved to version {}", alias, version ? std::to_string(*version) : "none"))
        .bind(7, decision);
    s.bind(8, std::string("promote"));
    s.run();
    s.reset();
  }
  util::failpoint("registry.move_alias.before_insert");
  s.bind(1, alias).bind(2, version).bind(3, previous).bind(4, now).bind(5, actor).bind(6, reason).bind(7, decision);
  s.bind(8, action);
  s.run();
  std::int64_t id = impl_->db.last_insert_id();
  t.commit();
  return id;
}

std::optional<int> Registry::alias(const std::string& alias) {
  Stmt s(impl_->db, "SELECT version FROM alias_events WHERE alias = ? ORDER BY id DESC LIMIT 1");
  s.bind(1, alias);
  if (!s.step()) return std::nullopt;
  return opt_int(s, 0);
}

std::optional<int> Registry::alias_at(const std::string& alias, double t) {
  Stmt s(impl_->db,
         "SELECT version FROM alias_events WHERE alias = ? AND time <= ? ORDER BY time DESC, id DESC LIMIT 1");
  s.bind(1, alias).bind(2, t);
  if (!s.step()) return std::nullopt;
  return opt_int(s, 0);
}

std::vector<AliasEvent> Registry::alias_history(const std::string& alias) {
  Stmt s(
      impl_->db,
      alias.empty()
          ? "SELECT id, alias, version, previous, time, actor, reason, decision, action FROM alias_events ORDER BY id"
          : "SELECT id, alias, version, previous, time, actor, reason, decision, action FROM alias_events WHERE alias "
            "= ? ORDER BY id");
  if (!alias.empty()) s.bind(1, alias);
  std::vector<AliasEvent> out;
  while (s.step()) out.push_back(impl_->read_event(s));
  return out;
}

std::int64_t Registry::record_decision(const DecisionRecord& d) {
  Transaction t(impl_->db);
  Stmt s(impl_->db, R"(INSERT INTO decisions(time, candidate, champion, dataset_version, run, verdict, reason, body)
                       VALUES(?, ?, ?, ?, ?, ?, ?, ?))");
  s.bind(1, d.time > 0 ? d.time : util::now_seconds())
      .bind(2, d.candidate)
      .bind(3, d.champion)
      .bind(4, d.dataset_version);
  if (d.run.empty())
    s.bind_null(5);
  else
    s.bind(5, d.run);
  s.bind(6, d.verdict).bind(7, d.reason).bind(8, d.body.dump()).run();
  std::int64_t id = impl_->db.last_insert_id();
  t.commit();
  return id;
}

std::optional<DecisionRecord> Registry::find_decision(std::int64_t id) {
  Stmt s(
      impl_->db,
      "SELECT id, time, candidate, champion, dataset_version, run, verdict, reason, body FROM decisions WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return impl_->read_decision(s);
}

std::vector<DecisionRecord> Registry::list_decisions(int limit) {
  Stmt s(impl_->db,
         "SELECT id, time, candidate, champion, dataset_version, run, verdict, reason, body FROM decisions ORDER BY id "
         "DESC LIMIT ?");
  s.bind(1, limit);
  std::vector<DecisionRecord> out;
  while (s.step()) out.push_back(impl_->read_decision(s));
  return out;
}

nlohmann::json Registry::lineage_of_model(int version) {
  auto m = find_model(version);
  if (!m) throw NotFound("model version {} does not exist", version);
  nlohmann::json j = {{"model", m->to_json()}, {"dataset_version", m->dataset_version}};
  if (!m->run.empty())
    if (auto r = find_run(m->run)) {
      j["run"] = r->to_json();
      if (!r->parent.empty())
        if (auto p = find_run(r->parent)) j["parent_run"] = p->to_json();
    }
  j["decisions"] = nlohmann::json::array();
  Stmt d(impl_->db,
         "SELECT id, time, candidate, champion, dataset_version, run, verdict, reason, body FROM decisions "
         "WHERE candidate = ? OR champion = ? ORDER BY id");
  d.bind(1, version).bind(2, version);
  while (d.step()) j["decisions"].push_back(impl_->read_decision(d).to_json());
  j["alias_events"] = nlohmann::json::array();
  Stmt e(impl_->db,
         "SELECT id, alias, version, previous, time, actor, reason, decision, action FROM alias_events "
         "WHERE version = ? OR previous = ? ORDER BY id");
  e.bind(1, version).bind(2, version);
  while (e.step()) j["alias_events"].push_back(impl_->read_event(e).to_json());
  return j;
}

nlohmann::json Registry::lineage_of_dataset(const std::string& dataset_version) {
  nlohmann::json j = {{"dataset_version", dataset_version},
                      {"runs", nlohmann::json::array()},
                      {"models", nlohmann::json::array()},
                      {"decisions", nlohmann::json::array()}};
  std::string sql = fmt::format("SELECT {} FROM runs WHERE dataset_version = ? ORDER BY started", kRunColumns);
  Stmt r(impl_->db, sql.c_str());
  r.bind(1, dataset_version);
  while (r.step()) j["runs"].push_back(impl_->read_run(r).to_json());
  Stmt m(impl_->db,
         "SELECT version, bundle_md5, run, dataset_version, metrics, created, note FROM models "
         "WHERE dataset_version = ? ORDER BY version");
  m.bind(1, dataset_version);
  while (m.step()) j["models"].push_back(impl_->read_model(m).to_json());
  Stmt d(impl_->db,
         "SELECT id, time, candidate, champion, dataset_version, run, verdict, reason, body FROM decisions "
         "WHERE dataset_version = ? ORDER BY id");
  d.bind(1, dataset_version);
  while (d.step()) j["decisions"].push_back(impl_->read_decision(d).to_json());
  return j;
}

}  // namespace wms::registry
