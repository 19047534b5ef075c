// A registry that several machines share (PostgreSQL): connection errors that name the
// server and never show a password, two workspaces (two "hosts") seeing one project, and
// the project lock across them: one pipeline at a time, released when its holder is
// killed with -9. Runs in wms_postgres_tests only.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "registry/backend.hpp"
#include "testing.hpp"
#include "wms/infra/lease.hpp"
#include "wms/registry/db.hpp"
#include "wms/registry/project_lock.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/registry/registry.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::registry {
namespace {

using testing::qp;
using testing::run_shell;
using testing::run_wms;
using testing::TempDir;
namespace fs = std::filesystem;

std::string server() {
  return std::getenv("WMS_TEST_PG_URL");
}

std::string error_of(const std::string& location) {
  try {
    Registry r(location);
  } catch (const Error& e) {
    return fmt::format("{}: {}", error_code_name(e.code()), e.what());
  }
  return "no error";
}

TEST(SharedRegistry, AUrlWithAPasswordIsRefusedAndNeverShown) {
  std::string url = server();
  url.insert(url.find("wms@") + 3, ":s3cret");
  std::string e = error_of(url + "/postgres");
  EXPECT_EQ(e.rfind("INVALID_INPUT", 0), 0u) << e;
  EXPECT_EQ(e.find("s3cret"), std::string::npos) << e;
  EXPECT_NE(e.find("PGPASSWORD"), std::string::npos) << e;
  EXPECT_EQ(error_of(server() + "/postgres?password=s3cret").find("s3cret"), std::string::npos);
  EXPECT_EQ(redact_url("postgresql://u:pw@h:5/d?password=x&sslmode=require"),
            "postgresql://u:***@h:5/d?password=***&sslmode=require");
}

TEST(SharedRegistry, ConnectionFailuresNameTheServerAndTheRule) {
  std::string refused = error_of("postgresql://wms@127.0.0.1:1/registry");
  EXPECT_EQ(refused.rfind("UNAVAILABLE", 0), 0u) << refused;
  EXPECT_NE(refused.find("127.0.0.1:1/registry"), std::string::npos) << refused;
  std::string missing = error_of(server() + "/no_such_db");
  EXPECT_EQ(missing.rfind("NOT_FOUND", 0), 0u) << missing;
  EXPECT_NE(missing.find("no_such_db"), std::string::npos) << missing;
  std::string user = error_of("postgresql://nobody@" + server().substr(server().find('@') + 1) + "/postgres");
  EXPECT_NE(user.find("nobody"), std::string::npos) << user;
}

// Two workspaces with one registry.url in their wms.yaml: one project.
struct TwoHosts {
  TempDir t;
  std::string url;
  fs::path a = t / "host-a", b = t / "host-b";
  explicit TwoHosts(const std::string& a_training = "training: {epochs: 1, batch_size: 8}\n") {
    url = testing::fresh_registry(t);
    unsetenv("WMS_REGISTRY_URL");  // from wms.yaml, as a user sets it
    for (const auto& [ws, training] : {std::pair{a, a_training}, std::pair{b, std::string()}}) {
      EXPECT_EQ(run_wms("init " + qp(ws)).exit_code, 0);
      util::append_line(ws / "wms.yaml", training + "registry: {url: '" + url +
                                             "'}\nmodel: {input_size: 32}\n"
                                             "training: {epochs: 1, batch_size: 8}\npipeline: {attempts: 1}\n"
                                             "gate: {floor: 0.0}\n");
    }
  }
  fs::path batch(const std::string& name, int first_id) {
    run_wms("synth --out " + qp(t / name) + " --count 24 --size 96 --seed 1 --first-id " + std::to_string(first_id));
    return t / name;
  }
};

TEST(SharedRegistry, TwoWorkspacesSeeOneProject) {
  TwoHosts h;
  auto r = run_wms("pipeline run --json -w " + qp(h.a) + " " + qp(h.batch("b1", 1)));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto runs = nlohmann::json::parse(run_wms("runs list --json -w " + qp(h.b)).out);
  ASSERT_FALSE(runs.empty());
  bool pipeline = false;
  for (const auto& run : runs) pipeline |= run["kind"] == "pipeline" && run["status"] == "success";
  EXPECT_TRUE(pipeline) << runs.dump();
  auto models = run_wms("models list --json -w " + qp(h.b));
  ASSERT_EQ(models.exit_code, 0) << models.err;
  auto m = nlohmann::json::parse(models.out);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]["aliases"], nlohmann::json::array({"production"}));
  EXPECT_FALSE(fs::exists(h.b / ".wms" / "registry.db")) << "no SQLite registry beside the shared one";
  auto bad = run_wms("runs list -w " + qp(h.b), "WMS_REGISTRY_URL=mysql://x@y/z");
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  EXPECT_NE(bad.err.find("WMS_REGISTRY_URL"), std::string::npos) << bad.err;
}

// The project lock's lease is its connection: a holder killed with -9 frees it at once.
TEST(SharedRegistry, ProjectLockHeldByAKilledProcessIsReleased) {
  TwoHosts h;
  auto ws_a = data::Workspace::open(h.a), ws_b = data::Workspace::open(h.b);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      ProjectLock lock(ws_a, 0);
      (void)!write(ready[1], "x", 1);
      for (;;) pause();
    } catch (...) {
      _exit(1);
    }
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  try {
    ProjectLock lock(ws_b, 0.5);
    FAIL() << "took the project lock while another workspace held it";
  } catch (const Conflict& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("wms pipeline pid " + std::to_string(child)), std::string::npos) << m;
    EXPECT_NE(m.find("busy"), std::string::npos) << m;
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto t0 = std::chrono::steady_clock::now();
  ProjectLock lock(ws_b, ProjectLock::kLeaseSeconds);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, ProjectLock::kLeaseSeconds);
  std::fprintf(stderr, "project lock free %.2f s after its holder was killed with -9\n", s);
}

// Two `wms pipeline run` on two workspaces of one project: exactly one runs; the other
// is refused naming the holder, and runs once the holder is killed (-9).
TEST(SharedRegistry, OnePipelineAtATimeAcrossWorkspaces) {
  TwoHosts h("training: {epochs: 5000, batch_size: 8, early_stopping_patience: 0}\n");
  auto b1 = h.batch("b1", 1), b2 = h.batch("b2", 1);
  auto pid_file = h.t / "a.pid", a_log = h.t / "a.log";
  run_shell("(" + std::string(WMS_BIN) + " pipeline run -w " + qp(h.a) + " " + qp(b1) + " >" + qp(a_log) +
            " 2>&1 & echo $! >" + qp(pid_file) + ")");
  std::string pid = util::read_file(pid_file);
  pid.erase(pid.find_last_not_of(" \n") + 1);
  // Until the first shows in the shared registry as running (a loaded machine starts it
  // late); if it ended instead, say why rather than let the second train its 5000 epochs.
  bool running = false;
  for (int i = 0; i < 600 && !running; ++i) {
    running = run_wms("runs list --json -w " + qp(h.b)).out.find("running") != std::string::npos;
    if (!running && !infra::process_alive(std::stoi(pid))) break;
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(running) << "the first pipeline did not start: " << util::read_file(a_log);
  auto refused = run_wms("pipeline run --json -w " + qp(h.b) + " " + qp(b2));
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
  EXPECT_NE(refused.err.find("held by 'wms pipeline pid " + pid), std::string::npos) << refused.err;
  run_shell("kill -9 " + pid);
  auto second = run_wms("pipeline run --json --wait 60 -w " + qp(h.b) + " " + qp(b2));
  EXPECT_EQ(second.exit_code, 0) << second.err;
}

}  // namespace
}  // namespace wms::registry
