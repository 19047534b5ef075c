#include "wms/registry/registry.hpp"

#include <fmt/chrono.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "registry/backend.hpp"
#include "testing.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::registry {
namespace {

using wms::testing::exec_sql;
using wms::testing::fresh_registry;
using wms::testing::postgres_backend;
using wms::testing::TempDir;

TEST(Registry, MigratesAnEmptyDatabaseToTheCurrentSchema) {
  TempDir t;
  Registry r(fresh_registry(t));
  EXPECT_EQ(r.schema_version(), Registry::kSchemaVersion);
  EXPECT_TRUE(r.list_runs().empty());
  EXPECT_TRUE(r.list_models().empty());
}

TEST(Registry, MigratesAnOlderDatabaseKeepingItsRuns) {
  TempDir t;
  std::string loc = fresh_registry(t);
  Registry::create_at_version(loc, 1);  // as an older wms left it: runs only
  exec_sql(loc,
           "INSERT INTO runs(id, kind, status, started, dataset_version) VALUES('train-old', 'train', 'success', "
           "1700000000, 'abc');"
           "INSERT INTO metrics(run, name, step, value, time) VALUES('train-old', 'val_dice', 1, 0.5, 1);");
  Registry r(loc);  // migrates 1 -> 3
  EXPECT_EQ(r.schema_version(), 3);
  ASSERT_TRUE(r.find_run("train-old"));
  EXPECT_EQ(r.find_run("train-old")->dataset_version, "abc");
  EXPECT_EQ(r.metrics("train-old").size(), 1u);
  EXPECT_EQ(r.register_model("00000000000000000000000000000000", "train-old", "abc", {}), 1);
}

TEST(Registry, RefusesADatabaseFromANewerWms) {
  TempDir t;
  std::string loc = fresh_registry(t);
  { Registry r(loc); }
  exec_sql(loc, postgres_backend() ? "UPDATE wms_schema SET version = 99" : "PRAGMA user_version = 99");
  EXPECT_THROW(Registry{loc}, Conflict);
}

// SQLite: a file that is not a database. PostgreSQL: a database that holds another
// application's tables (a `runs` of its own).
TEST(Registry, RefusesADatabaseThatIsNotARegistry) {
  TempDir t;
  std::string loc = fresh_registry(t);
  if (postgres_backend())
    exec_sql(loc, "CREATE TABLE runs(x INTEGER)");
  else
    util::atomic_write(loc, std::string(4096, 'x'));
  try {
    Registry r(loc);
    FAIL() << "opened a database that is not a registry";
  } catch (const Corrupt& e) {
    EXPECT_NE(std::string(e.what()).find(postgres_backend() ? "127.0.0.1" : "r.db"), std::string::npos) << e.what();
  }
}

TEST(Registry, RunsRecordParamsMetricsArtifactsAndStatus) {
  TempDir t;
  Registry r(fresh_registry(t));
  std::string id = r.create_run({"train", "", "ds1", "/tmp/x", "abc123"});
  r.log_params(id, {{"lr", 0.001}, {"loss", "bce"}});
  r.log_metrics(id, 1, {{"val_dice", 0.5}, {"val_loss", 0.3}});
  r.log_metrics(id, 2, {{"val_dice", 0.7}, {"val_loss", 0.2}});
  r.add_artifact(id, "model.wms", "0123456789abcdef0123456789abcdef", 42);
  r.finish_run(id, kSuccess);
  auto run = *r.find_run(id.substr(0, id.size() - 2));
  EXPECT_EQ(run.status, kSuccess);
  EXPECT_EQ(run.params["lr"], 0.001);
  EXPECT_EQ(run.params["loss"], "bce");
  EXPECT_EQ(run.git_commit, "abc123");
  EXPECT_GT(run.ended, 0);
  auto dice = r.metrics(id, "val_dice");
  ASSERT_EQ(dice.size(), 2u);
  EXPECT_EQ(dice[1].step, 2);
  EXPECT_DOUBLE_EQ(dice[1].value, 0.7);
  EXPECT_EQ(r.artifacts(id)[0].size, 42);
  std::string child = r.create_run({"eval", id, "ds1", "", ""});
  EXPECT_EQ(r.child_runs(id)[0].id, child);
  EXPECT_FALSE(r.find_run("nope"));
}

// Run ids are the kind, the second and a 16-bit suffix: two runs started in the same
// second (two processes, or a CPU whose random numbers repeat) must still get two ids.
TEST(Registry, RunsStartedInTheSameSecondGetDistinctIds) {
  TempDir t;
  std::string loc = fresh_registry(t);
  Registry r(loc);
  // Every suffix but one is taken for this second (the clock is held: filling the
  // table takes seconds on a slow PostgreSQL, and the run must start in that second).
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  util::FakeClock clock(std::chrono::duration<double>(now.time_since_epoch()).count());
  std::string sql = "BEGIN";
  int rows = 0;
  for (unsigned suffix = 0; suffix < 0x10000; ++suffix) {
    if (suffix == 0x1234) continue;
    sql += rows++ % 4096 == 0 ? "; INSERT INTO runs(id, kind, status, started) VALUES " : ", ";
    sql += fmt::format("('x-{:%Y%m%d-%H%M%S}-{:04x}', 'x', 'success', 1)", now, suffix);
  }
  exec_sql(loc, sql + "; COMMIT");
  std::string id = r.create_run({"x", "", "", "", ""});
  EXPECT_EQ(id.substr(id.size() - 5), "-1234") << id;
}

// Two processes write at once: nothing is lost, nothing is corrupted.
TEST(Registry, ConcurrentWritersLoseNothing) {
  TempDir t;
  std::string id;
  std::string loc = fresh_registry(t);
  {
    Registry r(loc);
    id = r.create_run({"train", "", "", "", ""});
  }
  const int per_process = 150;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      Registry r(loc);
      for (int i = 0; i < per_process; ++i) r.log_metric(id, "child", i, i);
      for (int i = 0; i < 20; ++i) r.create_run({"eval", id, "", "", ""});
    } catch (...) {
      _exit(1);
    }
    _exit(0);
  }
  {
    Registry r(loc);
    for (int i = 0; i < per_process; ++i) r.log_metric(id, "parent", i, i);
    for (int i = 0; i < 20; ++i) r.create_run({"eval", id, "", "", ""});
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  Registry r(loc);
  EXPECT_EQ(r.metrics(id, "child").size(), static_cast<std::size_t>(per_process));
  EXPECT_EQ(r.metrics(id, "parent").size(), static_cast<std::size_t>(per_process));
  EXPECT_EQ(r.child_runs(id).size(), 40u);
}

// A writer killed in the middle of a transaction leaves the last committed state.
TEST(Registry, WriterKilledMidTransactionLeavesAConsistentDatabase) {
  TempDir t;
  std::string id;
  std::string loc = fresh_registry(t);
  {
    Registry r(loc);
    id = r.create_run({"train", "", "", "", ""});
    r.log_metrics(id, 1, {{"a", 1.0}, {"b", 2.0}});
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv("WMS_FAILPOINTS", "registry.mid_metrics=exit", 1);
    Registry r(loc);
    r.log_metrics(id, 2, {{"a", 3.0}, {"b", 4.0}});  // dies after the first row
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 86);
  Registry r(loc);
  auto points = r.metrics(id);
  ASSERT_EQ(points.size(), 2u) << "the half-written step 2 must not appear";
  EXPECT_EQ(points[0].step, 1);
  r.log_metrics(id, 2, {{"a", 3.0}});  // and the database still takes writes
  EXPECT_EQ(r.metrics(id).size(), 3u);
}

TEST(Aliases, HistoryAnswersPointInTimeQueries) {
  TempDir t;
  Registry r(fresh_registry(t));
  int v1 = r.register_model("00000000000000000000000000000001", "", "", {});
  int v2 = r.register_model("00000000000000000000000000000002", "", "", {});
  double before = util::now_seconds() - 1;
  r.move_alias("production", v1, "alice", "first");
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  r.move_alias("production", v2, "bob", "better", std::nullopt, "previous");
  auto h = r.alias_history("production");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].version, v1);
  EXPECT_FALSE(h[0].previous);
  EXPECT_EQ(h[1].previous, v1);
  EXPECT_EQ(h[1].actor, "bob");
  EXPECT_FALSE(r.alias_at("production", before));
  EXPECT_EQ(r.alias_at("production", h[0].time), v1);
  EXPECT_EQ(r.alias_at("production", (h[0].time + h[1].time) / 2), v1);
  EXPECT_EQ(r.alias_at("production", h[1].time + 1), v2);
  EXPECT_EQ(r.alias("previous"), v1);
  EXPECT_EQ(r.find_model(v1)->aliases, std::vector<std::string>{"previous"});
  EXPECT_THROW(r.move_alias("Bad Alias!", v1, "x", "y"), InvalidInput);
  EXPECT_THROW(r.move_alias("production", 99, "x", "y"), NotFound);
}

TEST(Time, IsoTimesRoundTrip) {
  EXPECT_EQ(util::iso_time(util::parse_iso_time("2026-03-01T12:00:00Z")), "2026-03-01T12:00:00Z");
  EXPECT_EQ(util::parse_iso_time("2026-03-01"), util::parse_iso_time("2026-03-01T00:00:00Z"));
  EXPECT_THROW(util::parse_iso_time("yesterday"), InvalidInput);
  EXPECT_THROW(util::parse_iso_time("2026-03-01T12:00:00+05"), InvalidInput);
}

// A workspace with two registered models, for promotion tests.
struct Promotions {
  TempDir t;
  std::string location = fresh_registry(t);  // for PostgreSQL: WMS_REGISTRY_URL, which open(ws) reads
  data::Workspace ws = data::Workspace::init(t / "ws");
  Registry reg = open(ws);
  int v1, v2;
  Promotions() {
    nn::ModelConfig c;
    c.input_size = 32;
    std::string run = reg.create_run({"train", "", "", "", ""});
    reg.log_params(run, {{"lr", 0.001}});
    reg.log_metrics(run, 3, {{"val_dice", 0.8}});
    nn::Model m1(c, 1), m2(c, 2);
    m1.info().metrics = {{"test_dice", 0.9}, {"test_iou", 0.8}};
    v1 = register_bundle(ws, reg, m1, run);
    v2 = register_bundle(ws, reg, m2, "");
  }
};

TEST(Promote, MovesProductionAndExportsTheOriginalsFiles) {
  Promotions p;
  promote(p.ws, p.reg, p.v1, "alice", "first model");
  auto current = nlohmann::json::parse(util::read_file(p.ws.root() / "models" / "production_current.json"));
  for (const char* key : {"version", "run_id", "stage", "timestamp", "created_at", "metrics", "params"})
    EXPECT_TRUE(current.contains(key)) << key;
  EXPECT_EQ(current["version"], p.v1);
  EXPECT_EQ(current["stage"], "Production");
  EXPECT_EQ(current["metrics"]["test_dice"], 0.9);
  EXPECT_EQ(current["metrics"]["val_dice"], 0.8);
  EXPECT_EQ(current["params"]["lr"], "0.001");  // MLflow params are strings
  promote(p.ws, p.reg, p.v2, "bob", "better");
  std::string history = util::read_file(p.ws.root() / "models" / "production_history.jsonl");
  EXPECT_EQ(std::count(history.begin(), history.end(), '\n'), 2);
  EXPECT_EQ(nlohmann::json::parse(history.substr(history.find('\n') + 1))["version"], p.v2);
  EXPECT_THROW(promote(p.ws, p.reg, p.v2, "bob", "again"), Conflict);
  EXPECT_THROW(promote(p.ws, p.reg, p.v1, "bob", ""), InvalidInput);
}

TEST(Promote, RollbackRestoresThePreviousProduction) {
  Promotions p;
  promote(p.ws, p.reg, p.v1, "alice", "first");
  promote(p.ws, p.reg, p.v2, "alice", "second");
  EXPECT_EQ(rollback(p.ws, p.reg, std::nullopt, "bob", "v2 misbehaves"), p.v1);
  EXPECT_EQ(p.reg.alias(kProduction), p.v1);
  EXPECT_EQ(p.reg.alias(kPrevious), p.v2);
  EXPECT_EQ(p.reg.alias_history(kProduction).back().reason, "v2 misbehaves");
}

// Rollback walks back through production's history (3 -> 2 -> 1), never forward to the
// version it just rolled away from; `rollback V` takes an explicit target.
TEST(Promote, RollbackStepsBackThroughTheHistory) {
  Promotions p;
  nn::ModelConfig c;
  c.input_size = 32;
  int v3 = register_bundle(p.ws, p.reg, nn::Model(c, 3), "");
  promote(p.ws, p.reg, p.v1, "alice", "first");
  promote(p.ws, p.reg, p.v2, "alice", "second");
  promote(p.ws, p.reg, v3, "alice", "third");
  EXPECT_EQ(production_stack(p.reg), (std::vector<int>{p.v1, p.v2, v3}));
  EXPECT_EQ(rollback(p.ws, p.reg, std::nullopt, "bob", "v3 misbehaves"), p.v2);
  EXPECT_EQ(rollback(p.ws, p.reg, std::nullopt, "bob", "v2 too"), p.v1);
  EXPECT_EQ(p.reg.alias(kProduction), p.v1);
  EXPECT_THROW(rollback(p.ws, p.reg, std::nullopt, "bob", "again"), NotFound) << "nothing before the first";
  EXPECT_EQ(p.reg.alias(kProduction), p.v1);
  auto h = p.reg.alias_history(kProduction);
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h[3].action, "rollback");
  EXPECT_EQ(h[3].actor, "bob");
  EXPECT_EQ(h[3].reason, "v3 misbehaves");
  EXPECT_EQ(h[4].reason, "v2 too");
  EXPECT_EQ(h[2].action, "promote");
  // A new promotion after rollbacks, then an explicit target.
  promote(p.ws, p.reg, v3, "alice", "fixed");
  EXPECT_EQ(production_stack(p.reg), (std::vector<int>{p.v1, v3}));
  EXPECT_EQ(rollback(p.ws, p.reg, p.v1, "bob", "explicit"), p.v1);
  EXPECT_THROW(rollback(p.ws, p.reg, p.v1, "bob", "same"), Conflict);
  EXPECT_EQ(rollback(p.ws, p.reg, p.v2, "bob", "outside the stack"), p.v2);
  EXPECT_EQ(production_stack(p.reg), (std::vector<int>{p.v1, p.v2}));
  EXPECT_EQ(rollback(p.ws, p.reg, std::nullopt, "bob", "back"), p.v1);
}

TEST(Promote, RefusesAVersionThatFailsToLoad) {
  Promotions p;
  promote(p.ws, p.reg, p.v1, "alice", "first");
  auto m = *p.reg.find_model(p.v2);
  auto obj = p.ws.store().object_path(m.bundle_md5);
  std::filesystem::permissions(obj, std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
  util::atomic_write(obj, "damaged");
  EXPECT_THROW(promote(p.ws, p.reg, p.v2, "alice", "broken"), Corrupt);
  EXPECT_EQ(p.reg.alias(kProduction), p.v1);
}

// A gate decision is against a champion: if another process (another machine sharing
// the registry) moved production meanwhile, the promotion is refused whole.
TEST(Promote, APromotionDecidedAgainstAReplacedChampionIsRefused) {
  Promotions p;
  nn::ModelConfig c;
  c.input_size = 32;
  int v3 = register_bundle(p.ws, p.reg, nn::Model(c, 3), "");
  promote(p.ws, p.reg, p.v1, "alice", "first");
  DecisionRecord d;
  d.candidate = v3;
  d.champion = p.v1;
  d.verdict = "promote";
  d.reason = "better";
  std::int64_t decision = p.reg.record_decision(d);
  promote(p.ws, p.reg, p.v2, "bob", "meanwhile, elsewhere");
  std::string before = util::read_file(p.ws.root() / "models" / "production_history.jsonl");
  try {
    promote(p.ws, p.reg, v3, "alice", "gate", decision);
    FAIL() << "promoted over a champion that was replaced";
  } catch (const Conflict& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("production moved to version 2 by bob"), std::string::npos) << m;
    EXPECT_NE(m.find("decided against version 1"), std::string::npos) << m;
  }
  EXPECT_EQ(p.reg.alias(kProduction), p.v2);
  EXPECT_EQ(p.reg.alias(kPrevious), p.v1);
  EXPECT_EQ(p.reg.alias_history(kProduction).size(), 2u);
  EXPECT_EQ(util::read_file(p.ws.root() / "models" / "production_history.jsonl"), before);
  // Decided against the current champion, it goes through.
  d.champion = p.v2;
  promote(p.ws, p.reg, v3, "alice", "gate", p.reg.record_decision(d));
  EXPECT_EQ(p.reg.alias(kProduction), v3);
}

TEST(Promote, ResolvesVersionsAndAliases) {
  Promotions p;
  promote(p.ws, p.reg, p.v2, "alice", "x");
  EXPECT_EQ(resolve_version(p.reg, "1"), 1);
  EXPECT_EQ(resolve_version(p.reg, "v2"), 2);
  EXPECT_EQ(resolve_version(p.reg, "production"), p.v2);
  EXPECT_FALSE(resolve_version(p.reg, "staging"));
  EXPECT_FALSE(resolve_version(p.reg, "some/file.wms"));
  EXPECT_THROW(resolve_version(p.reg, "7"), NotFound);
}

}  // namespace
}  // namespace wms::registry
