// Training in a Slurm job: a single-node cluster on 127.0.0.1 (tests/servers/slurm.sh,
// auth/none) and an S3 server (Swift) for the data, started once by this binary's main.
// Without Slurm (or root, which slurmd needs) or Swift the binary exits 77 (skipped)
// saying what is missing.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <sstream>
#include <thread>

#include "testing.hpp"
#include "wms/data/s3.hpp"
#include "wms/infra/lease.hpp"
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

struct SlurmProject {
  TempDir t;
  fs::path ws = t / "controller", node_dir = t / "node";
  explicit SlurmProject(const std::string& extra = "") {
    static int n = 0;
    std::string bucket = fmt::format("wms-slurm-{}-{}", ::getpid(), ++n);
    data::S3Options so;
    so.endpoint = env("S3_ENDPOINT");
    so.credentials = data::find_credentials();
    data::S3Client(so, bucket).create_bucket();
    EXPECT_EQ(run_wms("init " + qp(ws)).exit_code, 0);
    auto r = run_wms("remote add storage s3://" + bucket + "/p --default --endpointurl " + env("S3_ENDPOINT") + " -w " +
                     qp(ws));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    util::append_line(ws / "wms.yaml", extra + fmt::format(R"(model: {{input_size: 32}}
training: {{epochs: 2, batch_size: 8}}
pipeline: {{attempts: 1}}
gate: {{floor: 0.0}}
infra:
  provider: slurm
  cost_per_hour: 2.5
  slurm:
    workdir: {}
    wms: {}
    queue_timeout: 60
    instance_type: loopback slurm node
)",
                                                           node_dir.string(), WMS_BIN));
  }
  fs::path batch() {
    run_wms("synth --out " + qp(t / "b1") + " --count 24 --size 96 --seed 1");
    return t / "b1";
  }
};

std::string squeue() {
  return run_shell("squeue -h -o '%i %j %T %k'").out;
}

TEST(SlurmProvider, PipelineTrainsInAJobThatIsCancelledAfter) {
  SlurmProject p;
  auto r = run_wms("pipeline run --json -w " + qp(p.ws) + " " + qp(p.batch()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["outcome"], "improved");
  EXPECT_EQ(st["jobs"][3]["outputs"]["provider"], "slurm");
  EXPECT_EQ(st["jobs"][3]["outputs"]["instance_type"], "loopback slurm node");
  EXPECT_GT(st["jobs"][3]["outputs"]["cost"].get<double>(), 0.0);
  std::string log = run_wms("runs logs -w " + qp(p.ws) + " " + st["run_id"].get<std::string>() + " --job train").out;
  EXPECT_NE(log.find("(slurm, lease"), std::string::npos) << log;
  EXPECT_NE(log.find("epoch   2"), std::string::npos) << log;
  EXPECT_EQ(squeue().find("wms-"), std::string::npos) << squeue();
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + qp(p.ws)).out).size(), 0u);
}

// infra.machines: 2 leases two machines (two jobs on the node, one CPU each) and runs
// the attempts on them at once. Attempt 2 trains on a slower "machine" (a failpoint
// sleeps 2 s each epoch of seed 8), so attempt 1 improves first: attempt 2 is stopped
// mid-training (its run cancelled), attempt 3 never starts, both jobs are gone after
// and the cost is both machines'.
TEST(SlurmProvider, AttemptsRunInParallelAndTheFirstThatImprovesStopsTheOthers) {
  SlurmProject p;
  auto cfg = util::read_file(p.ws / "wms.yaml");
  auto swap = [&](const std::string& from, const std::string& to) {
    auto at = cfg.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    cfg.replace(at, from.size(), to);
  };
  swap("pipeline: {attempts: 1}", "pipeline: {attempts: 3}");
  swap("training: {epochs: 2, batch_size: 8}", "training: {epochs: 4, batch_size: 8, seed: 7}");
  swap("  cost_per_hour: 2.5\n", "  cost_per_hour: 2.5\n  machines: 2\n");
  util::atomic_write(p.ws / "wms.yaml", cfg);
  auto r = run_wms("pipeline run --json -w " + qp(p.ws) + " " + qp(p.batch()), "WMS_FAILPOINTS=worker.epoch.seed8=sleep");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["outcome"], "improved");
  EXPECT_EQ(st["jobs"][1]["outputs"]["instances"].size(), 2u)
      << run_wms("runs logs -w " + qp(p.ws) + " " + st["run_id"].get<std::string>() + " --job start-infra").out;
  EXPECT_EQ(st["jobs"][2]["outputs"]["attempts"], 2) << "attempt 3 never starts: " << st["jobs"][2].dump();
  EXPECT_EQ(st["jobs"][3]["outputs"]["machines"], 2);
  EXPECT_GT(st["jobs"][3]["outputs"]["cost"].get<double>(), 0.0);
  std::string log = run_wms("runs logs -w " + qp(p.ws) + " " + st["run_id"].get<std::string>() + " --job train").out;
  EXPECT_NE(log.find("attempt 2 stopped: attempt 1 improved first"), std::string::npos) << log;
  auto runs = nlohmann::json::parse(run_wms("runs list --json -w " + qp(p.ws)).out);
  std::vector<nlohmann::json> trains;
  for (const auto& run : runs)
    if (run["kind"] == "train") trains.push_back(run);
  ASSERT_EQ(trains.size(), 2u) << runs.dump(1);
  int cancelled = 0;
  for (const auto& t : trains) cancelled += t["status"] == "cancelled";
  EXPECT_EQ(cancelled, 1) << runs.dump(1);
  // Both trained at once: each started before the other ended (ISO times sort).
  EXPECT_LT(trains[0]["started"].get<std::string>(), trains[1]["ended"].get<std::string>());
  EXPECT_LT(trains[1]["started"].get<std::string>(), trains[0]["ended"].get<std::string>());
  EXPECT_EQ(squeue().find("wms-"), std::string::npos) << squeue();
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + qp(p.ws)).out).size(), 0u);
}

// Found by its tag: a job named wms-<lease> with this workspace's owner and no lease
// record (a controller that died between sbatch and writing the job id) is cancelled;
// another owner's job is not.
TEST(SlurmProvider, ReapCancelsJobsNoLiveLeaseHolds) {
  SlurmProject p;
  std::string owner = infra::Leases(data::Workspace::open(p.ws)).owner();
  auto mine = run_shell("sbatch --parsable --job-name=wms-lost-1 --comment=" + qp(owner) +
                        " --time=5 --output=/dev/null --wrap='sleep 300'");
  auto other = run_shell(
      "sbatch --parsable --job-name=wms-theirs-1 --comment=elsewhere:/ws --time=5 "
      "--output=/dev/null --wrap='sleep 300'");
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  auto reap = run_wms("infra reap --json -w " + qp(p.ws));
  ASSERT_EQ(reap.exit_code, 0) << reap.err;
  auto reaped = nlohmann::json::parse(reap.out);
  ASSERT_EQ(reaped.size(), 1u) << reaped.dump();
  EXPECT_EQ(reaped[0]["lease"], "lost-1");
  for (int i = 0; i < 50 && squeue().find("wms-lost-1") != std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(squeue().find("wms-lost-1"), std::string::npos) << squeue();
  EXPECT_NE(squeue().find("wms-theirs-1"), std::string::npos) << "another controller's job stays: " << squeue();
  run_shell("scancel " + other.out);
  // scancel returns before the job is gone: leave no job for the next test's squeue.
  for (int i = 0; i < 100 && squeue().find("wms-theirs-1") != std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

// The lease's hard deadline is the job's --time (a minute here, the smallest Slurm
// knows): the scheduler ends the job at it (TERM, then KILL), though training would go
// on; the run fails and the job is gone. (Longer jobs also get --signal=TERM@30; not
// this one: Slurm may send it up to 60 s early, before the lease is open.)
TEST(SlurmProvider, TheHardDeadlineIsTheJobsTimeLimit) {
  SlurmProject p(
      "training: {epochs: 100000, batch_size: 8, early_stopping_patience: 0}\ninfra: {max_lease_minutes: 1}\n");
  // YAML keeps the first key: the extra infra: above wins over the block below, so
  // repeat what the block says.
  util::append_line(p.ws / "wms.yaml", "");
  auto cfg = util::read_file(p.ws / "wms.yaml");
  cfg.replace(cfg.find("infra: {max_lease_minutes: 1}\n"), 31, "");
  cfg.replace(cfg.find("  cost_per_hour: 2.5\n"), 20, "  cost_per_hour: 2.5\n  max_lease_minutes: 1\n");
  util::atomic_write(p.ws / "wms.yaml", cfg);
  auto b = p.batch();
  auto started = std::chrono::steady_clock::now();
  std::thread watch([&] {
    for (int i = 0; i < 300; ++i) {
      // This pipeline's job: not one another test started by hand (wms-theirs-*, wms-lost-*).
      std::istringstream jobs(run_shell("squeue -h -o '%j %l'").out);
      for (std::string line; std::getline(jobs, line);)
        if (line.starts_with("wms-") && !line.starts_with("wms-theirs-") && !line.starts_with("wms-lost-")) {
          EXPECT_NE(line.find("1:00"), std::string::npos) << "sbatch --time is the lease: " << line;
          return;
        }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto r = run_wms("pipeline run --json -w " + qp(p.ws) + " " + qp(b));
  watch.join();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_NE(r.exit_code, 0);
  auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["jobs"][2]["status"], "failure") << st.dump();
  std::fprintf(stderr, "train: %s\n", st["jobs"][2].value("reason", "").c_str());
  EXPECT_EQ(st["jobs"][3]["status"], "success") << "stop-infra still ran";
  EXPECT_LT(s, 150) << "held past its hard deadline";
  std::fprintf(stderr, "training ended %.0f s after the pipeline started (hard deadline: 60 s)\n", s);
  // Nothing of the job runs; the scheduler may still be reaping it (COMPLETING: the
  // limit's TERM, KILL KillWait=2 s later, at most UnkillableStepTimeout=10 s), and then
  // it is gone.
  const std::string left = squeue();
  for (const char* live : {" RUNNING ", " PENDING ", " CONFIGURING "})
    EXPECT_EQ(left.find(live), std::string::npos) << left;
  for (int i = 0; i < 300 && squeue().find("wms-") != std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(squeue().find("wms-"), std::string::npos) << squeue();
}

}  // namespace
}  // namespace wms

int main(int argc, char** argv) {
  return wms::testing::main_with_servers(argc, argv, {"slurm.sh", "swift_s3.sh"});
}
