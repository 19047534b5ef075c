// The registry: runs (params, tags, metric series, artifacts, parents), model versions,
// aliases with their full history, gate decisions, and the lineage between them, in one
// SQLite database (.wms/registry.db, WAL, the default) or in a PostgreSQL database that
// several machines share (registry.url: postgresql://user@host:port/db). It replaces
// the original's MLflow tracking server and model registry.
//
// Every write is one transaction serialised against every other writer (SQLite: BEGIN
// IMMEDIATE; PostgreSQL: an advisory lock), so two processes writing at once, on one
// machine or on two, wait for each other (15 s, then Conflict) instead of corrupting or
// losing anything, and a crash mid-write leaves the previous consistent state. An alias never changes in place:
// each move is an event (time, actor, reason, decision), so "which version was
// production at time T" is a query, and rollback is one more event.
// The schema is migrated forward on open (PRAGMA user_version). One Registry per thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wms::registry {

namespace fs = std::filesystem;

/// Run statuses; written to the database by name. Never rename.
inline constexpr const char* kRunning = "running";
inline constexpr const char* kSuccess = "success";
inline constexpr const char* kFailure = "failure";
inline constexpr const char* kCancelled = "cancelled";

struct Run {
  std::string id, kind, status;
  double started = 0, ended = 0;  ///< unix seconds; ended 0 while running
  std::string host, git_commit, parent, dataset_version, run_dir, error;
  nlohmann::json params = nlohmann::json::object();
  nlohmann::json tags = nlohmann::json::object();
  nlohmann::json to_json() const;
};

struct NewRun {
  std::string kind;  ///< train, eval, gate, pipeline, ...
  std::string parent;
  std::string dataset_version;
  std::string run_dir;
  std::string git_commit;
};

struct MetricPoint {
  std::string name;
  std::int64_t step = 0;
  double value = 0;
  double time = 0;
};

struct Artifact {
  std::string name, md5;
  std::int64_t size = 0;
};

struct ModelVersion {
  int version = 0;
  std::string bundle_md5;  ///< the bundle in the content store
  std::string run, dataset_version, note;
  nlohmann::json metrics = nlohmann::json::object();
  double created = 0;
  std::vector<std::string> aliases;  ///< current aliases pointing here
  nlohmann::json to_json() const;
};

struct AliasEvent {
  std::int64_t id = 0;
  std::string alias;
  std::optional<int> version;   ///< nullopt: the alias was removed
  std::optional<int> previous;  ///< what it pointed at before
  double time = 0;
  std::string actor, reason;
  std::optional<std::int64_t> decision;
  std::string action = "promote";  ///< "promote" or "rollback" (a step back through the history)
  nlohmann::json to_json() const;
};

struct DecisionRecord {
  std::int64_t id = 0;
  double time = 0;
  std::optional<int> candidate, champion;
  std::string dataset_version, run, verdict, reason;
  nlohmann::json body = nlohmann::json::object();  ///< scores, deltas, interval, policy
  nlohmann::json to_json() const;
};

class Registry {
 public:
  static constexpr int kSchemaVersion = 3;

  /// Opens (creating) and migrates the registry at `location`: a SQLite file's path, or
  /// a postgresql:// URL (see db.hpp's open_postgres: the password never in the URL).
  /// Throws IoError/Corrupt naming the file, Unavailable when the server can't be
  /// reached, Denied when it refuses the login, NotFound when the database is missing,
  /// InvalidInput for a URL that holds a password.
  explicit Registry(const std::string& location);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  int schema_version();
  /// Where it is, for messages: the file, or the URL without a password.
  const std::string& location() const;
  /// For tests of migrations: a database left at `version` as an older wms would.
  static void create_at_version(const std::string& location, int version);

  // Runs.
  std::string create_run(const NewRun& r);
  void finish_run(const std::string& id, const std::string& status, const std::string& error = "");
  void log_params(const std::string& id, const nlohmann::json& params);
  void set_tag(const std::string& id, const std::string& key, const std::string& value);
  void log_metric(const std::string& id, const std::string& name, std::int64_t step, double value);
  /// Several metrics of one step in one transaction.
  void log_metrics(const std::string& id, std::int64_t step, const nlohmann::json& values);
  void add_artifact(const std::string& id, const std::string& name, const std::string& md5, std::int64_t size);
  void set_run_dataset(const std::string& id, const std::string& dataset_version);
  void set_run_dir(const std::string& id, const std::string& run_dir);
  std::vector<Run> list_runs(int limit = 50, const std::string& kind = "");
  /// By id or unique id prefix. Throws InvalidInput if ambiguous.
  std::optional<Run> find_run(const std::string& id_or_prefix);
  std::vector<MetricPoint> metrics(const std::string& run_id, const std::string& name = "");
  std::vector<Artifact> artifacts(const std::string& run_id);
  std::vector<Run> child_runs(const std::string& parent);

  // Model versions (1, 2, ...).
  int register_model(const std::string& bundle_md5, const std::string& run, const std::string& dataset_version,
                     const nlohmann::json& metrics, const std::string& note = "");
  std::optional<ModelVersion> find_model(int version);
  std::vector<ModelVersion> list_models();

  // Aliases.
  /// Moves (or with nullopt removes) an alias; returns the event id. With `displaced`,
  /// the version the alias pointed at moves to that alias in the same transaction
  /// (production's old version becomes "previous"). With `expected`, the alias must
  /// still point at that version when the move is applied (checked and applied in one
  /// serialised write): a move decided against a version that another process has
  /// since replaced throws Conflict naming who moved it, and changes nothing.
  std::int64_t move_alias(const std::string& alias, std::optional<int> version, const std::string& actor,
                          const std::string& reason, std::optional<std::int64_t> decision = std::nullopt,
                          const std::string& displaced = "", const std::string& action = "promote",
                          std::optional<int> expected = std::nullopt);
  std::optional<int> alias(const std::string& alias);
  /// What the alias pointed at, at unix time t.
  std::optional<int> alias_at(const std::string& alias, double t);
  std::vector<AliasEvent> alias_history(const std::string& alias = "");

  // Decisions.
  std::int64_t record_decision(const DecisionRecord& d);
  std::optional<DecisionRecord> find_decision(std::int64_t id);
  std::vector<DecisionRecord> list_decisions(int limit = 50);

  // Lineage: dataset version -> run -> model version -> decisions and promotions.
  nlohmann::json lineage_of_model(int version);
  nlohmann::json lineage_of_dataset(const std::string& dataset_version);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wms::registry
