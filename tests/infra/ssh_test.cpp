// Training on an ssh host: an OpenSSH server on 127.0.0.1 with its own host key and
// authorized_keys (tests/servers/sshd.sh) and an S3 server (Swift, tests/servers/
// swift_s3.sh) for the data, both started once by this binary's main. The "host" is
// this machine reached through sshd, running this build's wms as `wms worker`, with
// its own folder and its own credentials file (the controller never sends secrets).
// Without sshd or Swift the binary exits 77 (skipped) saying what is missing.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "testing.hpp"
#include "wms/data/s3.hpp"
#include "wms/util/fs.hpp"

namespace wms {
namespace {

using testing::qp;
using testing::run_shell;
using testing::run_wms;
using testing::TempDir;
namespace fs = std::filesystem;

std::string env(const char* k) {
  const char* v = std::getenv(k);
  return v ? v : "";
}

// A controller workspace whose compute is the ssh host; data and bundles on a bucket.
struct SshProject {
  TempDir t;
  fs::path ws = t / "controller", host_dir = t / "host";
  explicit SshProject(const std::string& training = "training: {epochs: 2, batch_size: 8}\n",
                      const std::string& host = "") {
    static int n = 0;
    std::string bucket = fmt::format("wms-ssh-{}-{}", ::getpid(), ++n);
    data::S3Options so;
    so.endpoint = env("S3_ENDPOINT");
    so.credentials = data::find_credentials();
    data::S3Client(so, bucket).create_bucket();
    util::atomic_write(t / "credentials", fmt::format("[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                                                      env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")));
    EXPECT_EQ(run_wms("init " + qp(ws)).exit_code, 0);
    auto r = run_wms("remote add storage s3://" + bucket + "/p --default --endpointurl " + env("S3_ENDPOINT") + " -w " +
                     qp(ws));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    run_wms("remote modify storage credentialpath " + qp(t / "credentials") + " -w " + qp(ws));
    std::string dest = host.empty() ? env("WMS_TEST_SSH_USER") + "@127.0.0.1:" + env("WMS_TEST_SSH_PORT") : host;
    util::append_line(ws / "wms.yaml",
                      training + fmt::format(R"(model: {{input_size: 32}}
training: {{epochs: 2, batch_size: 8}}
pipeline: {{attempts: 1}}
gate: {{floor: 0.0}}
infra:
  provider: ssh
  cost_per_hour: 3.6
  ssh:
    hosts: ['{}']
    identity_file: {}
    known_hosts: {}
    workdir: {}
    wms: {}
    instance_type: loopback host
    connect_timeout: 5
)",
                                             dest, env("WMS_TEST_SSH_KEY"), env("WMS_TEST_SSH_KNOWN_HOSTS"),
                                             host_dir.string(), WMS_BIN));
  }
  fs::path batch() {
    run_wms("synth --out " + qp(t / "b1") + " --count 24 --size 96 --seed 1");
    return t / "b1";
  }
  // Runs the pipeline without the test's own S3 keys: the controller, like the host,
  // reads them from the remote's credentialpath.
  std::string no_keys() const { return "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "; }
  // Starts `wms pipeline run` in the background (output in t/out); returns its pid and,
  // once the worker on the host has recorded itself, the worker's pid (0 after 30 s).
  std::pair<std::string, int> start_until_worker(const fs::path& batch) {
    auto start = run_shell("(" + no_keys() + std::string(WMS_BIN) + " pipeline run -w " + qp(ws) + " " + qp(batch) +
                           " >" + qp(t / "out") + " 2>&1 & echo $!)");
    std::string pid = start.out.substr(0, start.out.find('\n'));
    int worker = 0;
    for (int i = 0; i < 300 && !worker; ++i) {
      for (const auto& f : host_files(".pid")) worker = std::atoi(util::read_file(f).c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return {pid, worker};
  }
  std::vector<fs::path> host_files(const std::string& ext) const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(host_dir / "leases", ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ext) out.push_back(it->path());
    return out;
  }
};

bool alive(int pid) {
  return pid > 0 && ::kill(pid, 0) == 0;
}

TEST(SshProvider, PipelineTrainsOnTheHostReleasesItAndRecordsTheCost) {
  SshProject p;
  auto r = run_shell(p.no_keys() + std::string(WMS_BIN) + " pipeline run --json -w " + qp(p.ws) + " " + qp(p.batch()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["outcome"], "improved");
  const auto& jobs = st["jobs"];
  EXPECT_EQ(jobs[1]["outputs"]["provider"], "ssh");
  EXPECT_EQ(jobs[3]["name"], "stop-infra");
  EXPECT_EQ(jobs[3]["outputs"]["instance_type"], "loopback host");
  EXPECT_GT(jobs[3]["outputs"]["cost"].get<double>(), 0.0);
  std::string run_id = st["run_id"];
  std::string log = run_wms("runs logs -w " + qp(p.ws) + " " + run_id + " --job train").out;
  EXPECT_NE(log.find("training on " + env("WMS_TEST_SSH_USER") + "@127.0.0.1"), std::string::npos) << log;
  EXPECT_NE(log.find("] worker on"), std::string::npos) << "the worker's own log streams back: " << log;
  EXPECT_NE(log.find("epoch   2"), std::string::npos) << log;
  EXPECT_NE(log.find("fetched the bundle"), std::string::npos) << log;
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + qp(p.ws)).out).size(), 0u);
  EXPECT_TRUE(p.host_files(".json").empty()) << "the host's side of the lease is closed too";
  auto run = nlohmann::json::parse(run_wms("runs show --json -w " + qp(p.ws) + " " + run_id).out);
  EXPECT_EQ(run["tags"]["infra.provider"], "ssh") << run.dump();
  // The trained run is recorded like a local one: per-epoch metrics, a model version.
  auto models = nlohmann::json::parse(run_wms("models list --json -w " + qp(p.ws)).out);
  ASSERT_EQ(models.size(), 1u);
  auto train_run = nlohmann::json::parse(
      run_wms("runs metrics --json -w " + qp(p.ws) + " " + models[0]["run"].get<std::string>()).out);
  EXPECT_FALSE(train_run.empty());
}

// Ctrl-C on the controller stops the remote work (the worker sees its connection
// close) and still releases the host.
TEST(SshProvider, CtrlCStopsTheRemoteWorkerAndReleasesTheHost) {
  SshProject p("training: {epochs: 5000, batch_size: 8, early_stopping_patience: 0}\n");
  auto b = p.batch();
  auto [pid, worker] = p.start_until_worker(b);
  ASSERT_GT(worker, 0) << util::read_file(p.t / "out");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_TRUE(alive(worker));
  run_shell("kill -INT " + pid);
  for (int i = 0; i < 300 && run_shell("kill -0 " + pid + " 2>/dev/null").exit_code == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (int i = 0; i < 100 && alive(worker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(alive(worker)) << "the remote worker outlived its cancelled controller";
  EXPECT_TRUE(p.host_files(".json").empty());
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + qp(p.ws)).out).size(), 0u);
  std::string out = util::read_file(p.t / "out");
  EXPECT_NE(out.find("cancelled"), std::string::npos) << out;
}

// A controller killed with -9: its worker stops when the connection closes; the next
// `wms infra reap` finds the lease of the dead run and closes it on the host.
TEST(SshProvider, AControllerKilledWithMinus9IsReaped) {
  SshProject p("training: {epochs: 5000, batch_size: 8, early_stopping_patience: 0}\n");
  auto b = p.batch();
  auto [pid, worker] = p.start_until_worker(b);
  ASSERT_GT(worker, 0) << util::read_file(p.t / "out");
  run_shell("kill -9 " + pid);
  for (int i = 0; i < 150 && alive(worker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(alive(worker)) << "the worker kept training for a controller that is gone";
  auto leases = nlohmann::json::parse(run_wms("infra leases --json -w " + qp(p.ws)).out);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_TRUE(leases[0]["stale"].get<bool>())
      << leases.dump() << " killed " << pid << ": " << run_shell("cat /proc/" + pid + "/stat").out;
  EXPECT_EQ(p.host_files(".json").size(), 1u);
  auto reap = run_shell(p.no_keys() + std::string(WMS_BIN) + " infra reap --json -w " + qp(p.ws));
  ASSERT_EQ(reap.exit_code, 0) << reap.err;
  auto reaped = nlohmann::json::parse(reap.out);
  ASSERT_EQ(reaped.size(), 1u) << reaped.dump();
  EXPECT_NE(reaped[0]["reason"].get<std::string>().find("died"), std::string::npos);
  EXPECT_TRUE(p.host_files(".json").empty());
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + qp(p.ws)).out).size(), 0u);
}

TEST(SshProvider, AHostThatCannotBeReachedFailsStartInfraAndLeavesNoLease) {
  SshProject p("", env("WMS_TEST_SSH_USER") + "@127.0.0.1:1");
  auto r = run_shell(p.no_keys() + std::string(WMS_BIN) + " pipeline run --json -w " + qp(p.ws) + " " + qp(p.batch()));
  EXPECT_NE(r.exit_code, 0);
  auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["jobs"][1]["status"], "failure");
  std::string why = st["jobs"][1]["reason"];
  EXPECT_NE(why.find("no host could take lease"), std::string::npos) << why;
  EXPECT_NE(why.find("127.0.0.1:1"), std::string::npos) << why;
  EXPECT_EQ(st["jobs"][2]["status"], "queued") << "training never started";
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + qp(p.ws)).out).size(), 0u);
}

}  // namespace
}  // namespace wms

int main(int argc, char** argv) {
  return wms::testing::main_with_servers(argc, argv, {"sshd.sh", "swift_s3.sh"});
}
