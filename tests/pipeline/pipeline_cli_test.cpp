// The pipeline with the real binary on small generated data: the original's three
// scenarios, kill -9 and resume, Ctrl-C, two runs at once, a webhook that is down.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "testing.hpp"
#include "vcs/fake_github.hpp"
#include "wms/util/fs.hpp"

namespace wms {
namespace {

using testing::run_shell;
using testing::run_wms;
using testing::TempDir;

std::string q(const std::filesystem::path& p) {
  return "'" + p.string() + "'";
}

// A workspace with a tiny, fast training setup and generated batches.
struct Loop {
  TempDir t;
  std::filesystem::path ws = t / "ws";
  explicit Loop(const std::string& extra_config = "") {
    run_wms("init " + q(ws));
    // The test's own settings come first: YAML keeps the first of two equal keys.
    util::append_line(ws / "wms.yaml", extra_config +
                                           "model: {input_size: 32}\n"
                                           "training: {epochs: 1, batch_size: 8}\n"
                                           "pipeline: {attempts: 1}\n"
                                           "gate: {floor: 0.0}\n");
  }
  std::filesystem::path batch(const std::string& name, int count, int first_id, int seed) {
    run_wms("synth --out " + q(t / name) + " --count " + std::to_string(count) + " --size 96 --first-id " +
            std::to_string(first_id) + " --seed " + std::to_string(seed));
    return t / name;
  }
  testing::RunResult pipeline(const std::filesystem::path& b, const std::string& env = "") {
    return run_wms("pipeline run --json -w " + q(ws) + " " + q(b), env);
  }
  nlohmann::json status() { return nlohmann::json::parse(run_wms("data status --json -w " + q(ws)).out); }
  nlohmann::json production() {
    auto r = run_wms("models history --json -w " + q(ws));
    auto h = nlohmann::json::parse(r.out);
    return h.empty() ? nlohmann::json(nullptr) : h.back()["version"];
  }
};

std::string job_status(const nlohmann::json& state, const std::string& name) {
  for (const auto& j : state["jobs"])
    if (j["name"] == name) return j["status"];
  return "?";
}

// Several machines need a provider that leases them: refused before anything runs.
TEST(Pipeline, SeveralMachinesOnTheLocalProviderAreRefused) {
  Loop l("infra: {machines: 2}\n");
  auto r = l.pipeline(l.batch("b1", 12, 1, 1));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("infra.machines: 2 machines need a provider that leases them"), std::string::npos) << r.err;
  EXPECT_TRUE(l.status()["head"].is_null()) << "nothing was applied";
}

TEST(Pipeline, ImprovedBatchIsAcceptedAndPromoted) {
  Loop l;
  auto r = l.pipeline(l.batch("b1", 30, 1, 1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["outcome"], "improved");
  for (const char* j : {"merge-and-validate", "start-infra", "train", "stop-infra", "promote", "notify"})
    EXPECT_EQ(job_status(st, j), "success") << j;
  const auto& mv = st["jobs"][0]["outputs"];
  EXPECT_EQ(mv["validation_passed"], true);
  EXPECT_EQ(mv["new_images"], 30);
  EXPECT_EQ(mv["total_images"], 30);
  const auto& tr = st["jobs"][2]["outputs"];
  EXPECT_EQ(tr["improved"], true);
  EXPECT_EQ(tr["model_version"], 1);
  EXPECT_TRUE(tr.contains("dice") && tr.contains("iou") && tr.contains("run_id"));
  EXPECT_EQ(l.status()["head"]["pairs"], 30);
  EXPECT_EQ(l.production(), 1);
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + q(l.ws)).out).size(), 0u) << "stop-infra ran";
  // The run view and the logs.
  std::string id = st["run_id"];
  auto show = run_wms("pipeline show -w " + q(l.ws) + " " + id);
  EXPECT_NE(show.out.find("merge-and-validate"), std::string::npos);
  EXPECT_NE(show.out.find("validation_passed"), std::string::npos);
  auto logs = run_wms("runs logs -w " + q(l.ws) + " " + id + " --job train");
  EXPECT_EQ(logs.exit_code, 0);
  EXPECT_NE(logs.out.find("gate: promote"), std::string::npos) << logs.out;
}

TEST(Pipeline, NotImprovedBatchIsKeptAsASubmissionAndChangesNothing) {
  // No champion: the floor (0) decides; afterwards nothing can improve Dice by 2.
  Loop l("gate: {floor: 0.0, min_improvement: 2.0}\n");
  ASSERT_EQ(l.pipeline(l.batch("b1", 24, 1, 1)).exit_code, 0);
  auto head = l.status()["head"]["id"];
  auto r = l.pipeline(l.batch("b2", 16, 100, 2));
  EXPECT_EQ(r.exit_code, 10) << r.err;
  auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["outcome"], "not_improved");
  EXPECT_EQ(job_status(st, "train"), "success");
  EXPECT_EQ(job_status(st, "stop-infra"), "success");
  EXPECT_EQ(job_status(st, "promote"), "skipped");
  EXPECT_EQ(st["jobs"][2]["outputs"]["improved"], false);
  EXPECT_EQ(l.status()["head"]["id"], head) << "the dataset head did not move";
  EXPECT_EQ(l.production(), 1) << "production did not move";
  auto subs = nlohmann::json::parse(run_wms("pipeline submissions --json -w " + q(l.ws)).out);
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0]["run_id"], st["run_id"]);
  EXPECT_EQ(subs[0]["status"], "rejected");
}

// kill -9 in the middle of training: the lease stays behind, nothing is half-applied,
// `resume` finishes the run, and a new run would have reaped the lease.
TEST(Pipeline, KilledDuringTrainingThenResumed) {
  Loop l;
  auto b = l.batch("b1", 24, 1, 1);
  auto k = l.pipeline(b, "WMS_FAILPOINTS=pipeline.train.start=exit");
  EXPECT_EQ(k.exit_code, 86);
  EXPECT_TRUE(l.status()["head"].is_null()) << "nothing accepted";
  auto leases = nlohmann::json::parse(run_wms("infra leases --json -w " + q(l.ws)).out);
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0]["stale"], true);
  auto runs = nlohmann::json::parse(run_wms("pipeline list --json -w " + q(l.ws)).out);
  ASSERT_EQ(runs.size(), 1u);
  std::string id = runs[0]["id"];
  auto r = run_wms("pipeline resume --json -w " + q(l.ws) + " " + id);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["outcome"], "improved");
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + q(l.ws)).out).size(), 0u);
  EXPECT_EQ(l.status()["head"]["pairs"], 24);
  EXPECT_EQ(run_wms("pipeline resume -w " + q(l.ws) + " " + id).exit_code, 5) << "a finished run is not resumed";
}

// A failed pipeline exits with its error's own code (7 a full disk, 4 a missing file),
// not 70 ("a bug"), and says which in pipeline.json; infra is still stopped.
TEST(Pipeline, FailureExitsWithTheErrorsOwnCode) {
  Loop l;
  auto b = l.batch("b1", 24, 1, 1);
  auto full = l.pipeline(b, "WMS_FAILPOINTS=pipeline.train.start=enospc");
  EXPECT_EQ(full.exit_code, 7) << full.out << full.err;
  auto st = nlohmann::json::parse(full.out);
  EXPECT_EQ(st["outcome"], "failed");
  EXPECT_EQ(st["error_code"], "IO");
  EXPECT_EQ(st["exit_code"], 7);
  EXPECT_NE(st["error"].get<std::string>().find("No space left on device"), std::string::npos) << st["error"];
  EXPECT_EQ(job_status(st, "stop-infra"), "success");
  EXPECT_TRUE(l.status()["head"].is_null()) << "nothing accepted";
  auto missing = l.pipeline(b, "WMS_FAILPOINTS=pipeline.train.start=notfound");
  EXPECT_EQ(missing.exit_code, 4) << missing.out << missing.err;
  EXPECT_EQ(nlohmann::json::parse(missing.out)["error_code"], "NOT_FOUND");
}

TEST(Pipeline, StaleLeaseIsReapedByTheNextRun) {
  Loop l;
  auto b = l.batch("b1", 24, 1, 1);
  EXPECT_EQ(l.pipeline(b, "WMS_FAILPOINTS=pipeline.train.start=exit").exit_code, 86);
  auto r = l.pipeline(b);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + q(l.ws)).out).size(), 0u);
  auto logs = run_wms("runs logs -w " + q(l.ws) + " " + nlohmann::json::parse(r.out)["run_id"].get<std::string>() +
                      " --job start-infra");
  EXPECT_NE(logs.out.find("reaped local"), std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find("its holder (pid"), std::string::npos) << logs.out;
}

TEST(Pipeline, CtrlCDuringTrainingStopsInfraAndIsCancelled) {
  Loop l("training: {epochs: 500, batch_size: 8}\n");
  auto b = l.batch("b1", 40, 1, 1);
  auto r = run_shell("timeout --preserve-status -s INT 5 " + std::string(WMS_BIN) + " pipeline run --json -w " +
                     q(l.ws) + " " + q(b));
  EXPECT_EQ(r.exit_code, 130) << r.err;
  ASSERT_FALSE(r.out.empty()) << "no status printed: " << r.err;
  auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["outcome"], "cancelled");
  EXPECT_EQ(job_status(st, "train"), "cancelled");
  EXPECT_EQ(job_status(st, "stop-infra"), "success");
  EXPECT_EQ(job_status(st, "promote"), "skipped");
  EXPECT_EQ(nlohmann::json::parse(run_wms("infra leases --json -w " + q(l.ws)).out).size(), 0u);
  EXPECT_TRUE(l.status()["head"].is_null());
  auto runs = nlohmann::json::parse(run_wms("runs list --json -w " + q(l.ws)).out);
  for (const auto& run : runs) EXPECT_EQ(run["status"], "cancelled") << run["id"];
}

TEST(Pipeline, SecondRunOnABusyWorkspaceIsRefusedClearly) {
  Loop l("training: {epochs: 500, batch_size: 8}\n");
  auto b = l.batch("b1", 40, 1, 1);
  auto pid_file = l.t / "first.pid";
  run_shell("(" + std::string(WMS_BIN) + " pipeline run -w " + q(l.ws) + " " + q(b) + " >/dev/null 2>&1 & echo $! >" +
            q(pid_file) + ")");
  std::string pid = util::read_file(pid_file);
  pid.erase(pid.find_last_not_of(" \n") + 1);
  // The first run holds the workspace once it has recorded itself (no fixed sleep: a
  // loaded machine starts it late).
  for (int i = 0; i < 600 && run_wms("pipeline list --json -w " + q(l.ws)).out.find("running") == std::string::npos;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto second = l.pipeline(b);
  EXPECT_EQ(second.exit_code, 5) << second.err;
  EXPECT_NE(second.err.find("busy"), std::string::npos) << second.err;
  run_shell("kill -INT " + pid);
  for (int i = 0; i < 600 && run_shell("kill -0 " + pid + " 2>/dev/null").exit_code == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

TEST(Pipeline, AWebhookThatIsDownDoesNotFailTheRun) {
  Loop l(
      "notify:\n  timeout_seconds: 1\n  retries: 1\n  backoff_seconds: 0.05\n  webhooks:\n"
      "    - url: http://127.0.0.1:9/hook?token=SECRET\n      format: slack\n");
  auto r = l.pipeline(l.batch("b1", 24, 1, 1));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto st = nlohmann::json::parse(r.out);
  const auto& n = st["jobs"][5];
  EXPECT_EQ(n["status"], "success");
  EXPECT_EQ(n["outputs"]["failed"], 1);
  EXPECT_EQ(n["outputs"]["deliveries"][0]["attempts"], 2);
  EXPECT_EQ(n["outputs"]["deliveries"][0]["target"], "http://127.0.0.1:9");
  EXPECT_EQ(r.err.find("SECRET"), std::string::npos) << "secrets never reach the logs";
  EXPECT_EQ(r.out.find("SECRET"), std::string::npos);
}

TEST(Pipeline, InvalidBatchStopsAtValidationAndChangesNothing) {
  Loop l;
  ASSERT_EQ(l.pipeline(l.batch("b1", 24, 1, 1)).exit_code, 0);
  auto head = l.status()["head"]["id"];
  run_wms("synth --out " + q(l.t / "bad") + " --count 4 --size 96 --first-id 500");
  testing::write_bytes(l.t / "bad" / "images" / "id_600_value_1_1.jpg", "truncated");
  auto r = l.pipeline(l.t / "bad");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto st = nlohmann::json::parse(r.out);
  EXPECT_EQ(st["outcome"], "invalid");
  for (const char* j : {"start-infra", "train", "stop-infra", "promote"}) EXPECT_EQ(job_status(st, j), "skipped") << j;
  EXPECT_EQ(job_status(st, "notify"), "success");
  EXPECT_EQ(l.status()["head"]["id"], head);
  EXPECT_EQ(l.production(), 1);
}

// Git mode: the workspace is a repository's top level.
TEST(PipelineGit, ImprovedMergesThePointersNotImprovedLeavesTheBranch) {
  Loop l("gate: {floor: 0.0, min_improvement: 0.5}\n");
  auto git = [&](const std::string& args) {
    return run_shell("cd " + q(l.ws) + " && git -c user.name=t -c user.email=t@t " + args);
  };
  ASSERT_EQ(git("init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm init").exit_code, 0);
  auto r = l.pipeline(l.batch("b1", 24, 1, 1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto st = nlohmann::json::parse(r.out);
  std::string branch = st["jobs"][0]["outputs"]["branch"];
  EXPECT_EQ(branch.rfind("data/", 0), 0u);
  EXPECT_EQ(git("rev-parse --verify -q " + branch).exit_code, 0) << "the data branch exists";
  auto log = git("log --format=%s main");
  EXPECT_NE(log.out.find("data: 24 new images, model version 1 promoted"), std::string::npos) << log.out;
  auto show = git("show --stat --format= main");
  EXPECT_NE(show.out.find("data/images.dvc"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("models/production_current.json"), std::string::npos) << show.out;
  EXPECT_EQ(show.out.find(".jpg"), std::string::npos) << "pictures are never committed";
  EXPECT_EQ(git("status --porcelain data/images.dvc data/masks.dvc").out, "") << "index refreshed";
  auto body = git("log -1 --format=%b main");
  EXPECT_NE(body.out.find("| test dice |"), std::string::npos) << body.out;

  // Not improved: its branch stays for review, main does not move.
  std::string main_before = git("rev-parse main").out;
  auto r2 = l.pipeline(l.batch("b2", 12, 100, 2));
  ASSERT_EQ(r2.exit_code, 10) << r2.err;
  std::string branch2 = nlohmann::json::parse(r2.out)["jobs"][0]["outputs"]["branch"];
  EXPECT_EQ(git("rev-parse --verify -q " + branch2).exit_code, 0);
  EXPECT_EQ(git("rev-parse main").out, main_before);
  EXPECT_TRUE(std::filesystem::exists(l.ws / ".wms" / "runs" /
                                      nlohmann::json::parse(r2.out)["run_id"].get<std::string>() / "pr.md"));
}

// Git mode with a hosted repository: the data branch is pushed and its pull request
// opened with auto-merge requested (a local stand-in for GitHub checks the calls).
TEST(PipelineGit, ImprovedOpensTheHostedPullRequestWithAutoMerge) {
  testing::FakeGitHub gh;
  Loop l("git:\n  hosting:\n    repository: acme/meters\n    api_url: " + gh.url() +
         "\n    token_env: WMS_TEST_GH_TOKEN\n    timeout_seconds: 5\n");
  auto git = [&](const std::string& args) {
    return run_shell("cd " + q(l.ws) + " && git -c user.name=t -c user.email=t@t " + args);
  };
  ASSERT_EQ(run_shell("git init -q --bare " + q(l.t / "remote.git")).exit_code, 0);
  ASSERT_EQ(git("init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm init && "
                "git remote add origin " +
                q(l.t / "remote.git"))
                .exit_code,
            0);
  std::string main_before = git("rev-parse main").out;

  // Without the token the run is refused before anything happens.
  auto refused = l.pipeline(l.batch("b0", 24, 1, 1));
  EXPECT_EQ(refused.exit_code, 3) << refused.err;
  EXPECT_NE(refused.err.find("WMS_TEST_GH_TOKEN"), std::string::npos) << refused.err;

  auto r = l.pipeline(l.batch("b1", 24, 1, 1), "WMS_TEST_GH_TOKEN=s3cret-tok");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto st = nlohmann::json::parse(r.out);
  std::string branch = st["jobs"][0]["outputs"]["branch"];
  const auto& promote = st["jobs"][4]["outputs"];
  EXPECT_EQ(promote["pr_number"], 7) << promote.dump();
  EXPECT_EQ(promote["pr_url"], "https://git.test/acme/meters/pull/7");
  EXPECT_EQ(promote["pr_merge"], "auto");
  EXPECT_EQ(git("rev-parse main").out, main_before) << "the hosted service merges, not wms";
  auto pushed = run_shell("git --git-dir=" + q(l.t / "remote.git") + " show --stat --format=%s " + branch);
  ASSERT_EQ(pushed.exit_code, 0) << "the branch is on the remote: " << pushed.err;
  EXPECT_NE(pushed.out.find("models/production_current.json"), std::string::npos) << pushed.out;
  auto calls = gh.seen();
  ASSERT_EQ(calls.size(), 3u);
  auto pr = nlohmann::json::parse(calls[1].body);
  EXPECT_EQ(pr["head"], branch);
  EXPECT_EQ(pr["base"], "main");
  EXPECT_EQ(pr["title"], "data: 24 new images, model version 1 promoted");
  EXPECT_NE(pr["body"].get<std::string>().find("| test dice |"), std::string::npos);
  EXPECT_EQ(calls[2].path, "/graphql");
  EXPECT_EQ(calls[0].authorization, "Bearer s3cret-tok");
  auto logs = run_wms("runs logs -w " + q(l.ws) + " " + st["run_id"].get<std::string>() + " --job promote");
  EXPECT_NE(logs.out.find("pull request #7 opened"), std::string::npos) << logs.out;
  EXPECT_EQ(logs.out.find("s3cret"), std::string::npos) << "the token is never logged";
  EXPECT_EQ(r.err.find("s3cret"), std::string::npos);
}

TEST(PipelineGit, ARefusedHostedPullRequestIsReportedAndTheRunStillAccepts) {
  testing::FakeGitHub gh;
  gh.create_status = 422;
  Loop l("git:\n  hosting:\n    repository: acme/meters\n    api_url: " + gh.url() +
         "\n    token_env: WMS_TEST_GH_TOKEN\n");
  ASSERT_EQ(run_shell("git init -q --bare " + q(l.t / "remote.git")).exit_code, 0);
  ASSERT_EQ(run_shell("cd " + q(l.ws) +
                      " && git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t "
                      "commit -qm init && git remote add origin " +
                      q(l.t / "remote.git"))
                .exit_code,
            0);
  auto r = l.pipeline(l.batch("b1", 24, 1, 1), "WMS_TEST_GH_TOKEN=tok");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto st = nlohmann::json::parse(r.out);
  std::string err = st["jobs"][4]["outputs"]["pr_error"];
  EXPECT_NE(err.find("HTTP 422"), std::string::npos) << err;
  EXPECT_NE(err.find("No commits between"), std::string::npos) << err;
  EXPECT_EQ(l.production(), 1) << "the local accept stands";
  auto logs = run_wms("runs logs -w " + q(l.ws) + " " + st["run_id"].get<std::string>() + " --job promote");
  EXPECT_NE(logs.out.find("open its pull request by hand"), std::string::npos) << logs.out;
}

}  // namespace
}  // namespace wms
