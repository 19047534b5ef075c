// The real binary on generated data: exit codes, JSON, kill -9 at commit points.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing.hpp"
#include "wms/image/decode.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms {
namespace {

using testing::run_wms;
using testing::TempDir;

std::string q(const std::filesystem::path& p) {
  return "'" + p.string() + "'";
}

TEST(Cli, HelpListsCommandsAndExitCodes) {
  auto r = run_wms("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* word : {"init", "synth", "validate", "data", "demo", "Exit codes"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  EXPECT_EQ(run_wms("data add --help").exit_code, 0);
  // Every code an error can exit with is in the one table --help prints.
  for (int c = static_cast<int>(ErrorCode::kInvalidInput); c <= static_cast<int>(ErrorCode::kInternal); ++c)
    EXPECT_NE(r.out.find(fmt::format("\n  {:<4} ", exit_code_for(static_cast<ErrorCode>(c)))), std::string::npos) << c;
  // --device is checked on the command line as in wms.yaml.
  auto bad = run_wms("eval --device gpu --model x");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("gpu"), std::string::npos) << bad.err;
}

TEST(Cli, VersionAndUsageErrors) {
  auto v = run_wms("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("wms 0."), std::string::npos);
  EXPECT_EQ(run_wms("--no-such-flag").exit_code, 2);
  EXPECT_EQ(run_wms("frobnicate").exit_code, 2);
}

TEST(Cli, NotAWorkspaceIsNotFoundAndNamesTheFolder) {
  TempDir t;
  auto r = run_wms("data status -w " + q(t / "nowhere"));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("wms init"), std::string::npos) << r.err;
}

TEST(Cli, ValidateExitsOneOnErrorsWithAJsonReport) {
  TempDir t;
  ASSERT_EQ(run_wms("synth --out " + q(t / "good") + " --count 6 --size 128").exit_code, 0);
  auto good = run_wms("validate --alone --json " + q(t / "good"));
  EXPECT_EQ(good.exit_code, 0) << good.out;
  EXPECT_TRUE(nlohmann::json::parse(good.out)["validation_passed"].get<bool>());

  // A photo without its mask.
  std::filesystem::create_directories(t / "bad" / "masks");
  testing::write_bytes(t / "bad" / "images" / "id_1_value_1_1.jpg",
                       util::read_file(t / "good" / "images" /
                                       std::filesystem::directory_iterator(t / "good" / "images")->path().filename()));
  auto bad = run_wms("validate --alone --json " + q(t / "bad"));
  EXPECT_EQ(bad.exit_code, 1);
  auto j = nlohmann::json::parse(bad.out);
  EXPECT_FALSE(j["validation_passed"].get<bool>());
  EXPECT_EQ(j["issues"][0]["rule"], "pair.mask_missing");
  auto text = run_wms("validate --alone " + q(t / "bad"));
  EXPECT_NE(text.out.find("pair.mask_missing"), std::string::npos);
  EXPECT_NE(text.out.find("FAILED"), std::string::npos);
}

TEST(Cli, DataAddStatusLogDiffCheckout) {
  TempDir t;
  auto ws = t / "ws";
  ASSERT_EQ(run_wms("init " + q(ws)).exit_code, 0);
  run_wms("synth --out " + q(t / "b1") + " --count 5 --size 128");
  run_wms("synth --out " + q(t / "b2") + " --count 3 --size 128 --seed 2 --first-id 50");
  auto a1 = run_wms("data add --json -w " + q(ws) + " " + q(t / "b1"));
  ASSERT_EQ(a1.exit_code, 0) << a1.out << a1.err;
  std::string v1 = nlohmann::json::parse(a1.out)["version"];
  auto a2 = run_wms("data add --json -w " + q(ws) + " --images " + q(t / "b2" / "images") + " --masks " +
                    q(t / "b2" / "masks"));
  ASSERT_EQ(a2.exit_code, 0) << a2.err;
  std::string v2 = nlohmann::json::parse(a2.out)["version"];
  auto st = nlohmann::json::parse(run_wms("data status --json -w " + q(ws)).out);
  EXPECT_EQ(st["head"]["id"], v2);
  EXPECT_EQ(st["head"]["pairs"], 8);
  EXPECT_TRUE(st["working_copy"]["clean"].get<bool>());
  auto log = nlohmann::json::parse(run_wms("data log --json -w " + q(ws)).out);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["id"], v1);
  auto diff = nlohmann::json::parse(
      run_wms("data diff --json -w " + q(ws) + " " + v1.substr(0, 8) + " " + v2.substr(0, 8)).out);
  EXPECT_EQ(diff["added"].size(), 6u);
  EXPECT_EQ(run_wms("data checkout -w " + q(ws) + " " + v1.substr(0, 8)).exit_code, 0);
  st = nlohmann::json::parse(run_wms("data status --json -w " + q(ws)).out);
  EXPECT_EQ(st["head"]["id"], v1);
  EXPECT_TRUE(st["working_copy"]["clean"].get<bool>());
  EXPECT_EQ(run_wms("data checkout -w " + q(ws) + " 0123456789").exit_code, 4);
}

// kill -9 between the commit steps of `data add`: before HEAD moves the old version
// stays; after it the working copy is repaired by `data checkout`.
TEST(Cli, KilledAddLeavesOldVersionOrRepairableNewOne) {
  TempDir t;
  auto ws = t / "ws";
  run_wms("init " + q(ws));
  run_wms("synth --out " + q(t / "b1") + " --count 4 --size 128");
  run_wms("synth --out " + q(t / "b2") + " --count 4 --size 128 --seed 2 --first-id 50");
  ASSERT_EQ(run_wms("data add -w " + q(ws) + " " + q(t / "b1")).exit_code, 0);
  std::string v1 = nlohmann::json::parse(run_wms("data status --json -w " + q(ws)).out)["head"]["id"];

  for (const char* point : {"store.after_put", "data_add.after_objects", "data_add.after_version"}) {
    auto k = run_wms("data add -w " + q(ws) + " " + q(t / "b2"), std::string("WMS_FAILPOINTS=") + point + "=exit");
    EXPECT_EQ(k.exit_code, 86) << point;
    auto st = nlohmann::json::parse(run_wms("data status --json -w " + q(ws)).out);
    EXPECT_EQ(st["head"]["id"], v1) << point;
    EXPECT_TRUE(st["working_copy"]["clean"].get<bool>()) << point;
  }
  auto k = run_wms("data add -w " + q(ws) + " " + q(t / "b2"), "WMS_FAILPOINTS=dataset.after_accept_head=exit");
  EXPECT_EQ(k.exit_code, 86);
  auto st = nlohmann::json::parse(run_wms("data status --json -w " + q(ws)).out);
  EXPECT_NE(st["head"]["id"], v1);
  EXPECT_FALSE(st["working_copy"]["clean"].get<bool>());
  EXPECT_EQ(run_wms("data checkout -w " + q(ws)).exit_code, 0);
  st = nlohmann::json::parse(run_wms("data status --json -w " + q(ws)).out);
  EXPECT_TRUE(st["working_copy"]["clean"].get<bool>());
  EXPECT_EQ(st["head"]["pairs"], 8);
}

TEST(Cli, BusyWorkspaceIsRefusedWithConflict) {
  TempDir t;
  auto ws = t / "ws";
  run_wms("init " + q(ws));
  run_wms("synth --out " + q(t / "b1") + " --count 2 --size 128");
  util::FileLock held(ws / ".wms" / "lock", "test");
  auto r = run_wms("data add -w " + q(ws) + " " + q(t / "b1"));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("busy"), std::string::npos) << r.err;
}

TEST(Cli, DemoRunsTheWholeLoop) {
  TempDir t;
  auto r = run_wms("demo --dir " + q(t / "demo"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The four stories of the main job, in order.
  auto first = r.out.find("-> improved");
  ASSERT_NE(first, std::string::npos) << r.out;
  auto second = r.out.find("-> improved", first + 1);
  ASSERT_NE(second, std::string::npos) << r.out;
  auto invalid = r.out.find("-> invalid", second);
  ASSERT_NE(invalid, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-> not_improved", invalid), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("production"), std::string::npos);
  // It never replaces a folder it did not make.
  std::filesystem::create_directories(t / "mine");
  EXPECT_EQ(run_wms("demo --dir " + q(t / "mine")).exit_code, 5);
}

}  // namespace
}  // namespace wms

namespace wms {
namespace {

using testing::run_wms;
using testing::TempDir;

std::string qp(const std::filesystem::path& p) {
  return "'" + p.string() + "'";
}

struct TrainedWorkspace {
  TempDir t;
  std::filesystem::path ws = t / "ws";
  std::string bundle;
  TrainedWorkspace() {
    run_wms("init " + qp(ws));
    run_wms("synth --out " + qp(t / "b") + " --count 30 --size 96");
    run_wms("data add -w " + qp(ws) + " " + qp(t / "b"));
    auto r = run_wms("train --json -w " + qp(ws) + " --epochs 1 --input-size 32");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    bundle = nlohmann::json::parse(r.out)["bundle"];
  }
};

TEST(CliModel, TrainWritesABundleMetricsAndRunFolder) {
  TrainedWorkspace w;
  ASSERT_TRUE(std::filesystem::exists(w.bundle));
  auto run_dir = std::filesystem::path(w.bundle).parent_path();
  EXPECT_TRUE(std::filesystem::exists(run_dir / "metrics.jsonl"));
  EXPECT_TRUE(std::filesystem::exists(run_dir / "params.json"));
  EXPECT_NE(util::read_file(run_dir / "curves.svg").find("<polyline"), std::string::npos) << "training curves plotted";
  auto show = nlohmann::json::parse(run_wms("model show --json " + qp(w.bundle)).out);
  EXPECT_EQ(show["parameters"], 1965569);
  EXPECT_EQ(show["input_size"], 32);
  EXPECT_FALSE(show["dataset_version"].get<std::string>().empty());
  EXPECT_TRUE(show["metrics"].contains("val_dice"));
}

// --worst N --out DIR: the N lowest-Dice photos, worst first, as overlays at the photo's
// size, their Dice the per-image scores'.
TEST(CliModel, EvalWritesTheWorstPhotosAsOverlays) {
  TrainedWorkspace w;
  auto ev = run_wms("eval --json -w " + qp(w.ws) + " --model " + qp(w.bundle) + " --split all --worst 3 --out " +
                    qp(w.t / "worst") + " --per-image " + qp(w.t / "scores.json"));
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  auto j = nlohmann::json::parse(ev.out);
  ASSERT_EQ(j["worst"].size(), 3u) << j.dump();
  std::vector<std::pair<double, std::string>> ranked;
  auto scores = nlohmann::json::parse(util::read_file(w.t / "scores.json"));
  for (const auto& i : scores["per_image"])
    ranked.emplace_back(i["at_full_resolution"]["dice"].get<double>(), i["stem"].get<std::string>());
  std::sort(ranked.begin(), ranked.end());
  for (std::size_t k = 0; k < 3; ++k) {
    std::string f = j["worst"][k].get<std::string>();
    EXPECT_EQ(std::filesystem::path(f).filename().string(), fmt::format("{:02}-{}.jpg", k + 1, ranked[k].second));
    auto shown = image::decode_image(util::read_file(f), f);
    auto photo = image::decode_image(util::read_file(w.t / "b" / "images" / (ranked[k].second + ".jpg")), "photo");
    EXPECT_EQ(shown.pixels.size(), photo.pixels.size()) << "at the photo's size";
  }
  auto bad = run_wms("eval -w " + qp(w.ws) + " --model " + qp(w.bundle) + " --worst 3");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--out"), std::string::npos) << bad.err;
}

TEST(CliModel, EvalAndPredictWithOverlayAndABadPhoto) {
  TrainedWorkspace w;
  auto ev = run_wms("eval --json -w " + qp(w.ws) + " --model " + qp(w.bundle) + " --split all --per-image " +
                    qp(w.t / "scores.csv"));
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  auto j = nlohmann::json::parse(ev.out);
  EXPECT_EQ(j["images"], 30);
  EXPECT_TRUE(j["at_score_size"].contains("dice"));
  EXPECT_NE(util::read_file(w.t / "scores.csv").find("stem,split,dice"), std::string::npos);

  testing::write_bytes(w.t / "in" / "broken.jpg", "not a photo");
  std::filesystem::copy(w.t / "b" / "images", w.t / "in", std::filesystem::copy_options::recursive);
  auto pr =
      run_wms("predict --json --overlay --model " + qp(w.bundle) + " " + qp(w.t / "in") + " --out " + qp(w.t / "out"));
  EXPECT_EQ(pr.exit_code, 3) << "one photo could not be read";
  auto results = nlohmann::json::parse(pr.out);
  ASSERT_EQ(results.size(), 31u);
  int ok = 0;
  for (const auto& r : results) {
    if (r.contains("error")) {
      EXPECT_NE(r["error"].get<std::string>().find("broken.jpg"), std::string::npos);
      continue;
    }
    ++ok;
    auto mask = image::decode_mask(util::read_file(r["mask"].get<std::string>()), "mask");
    auto photo = image::decode_image(util::read_file(r["input"].get<std::string>()), "photo");
    EXPECT_EQ(mask.pixels.size(), photo.pixels.size()) << "mask at the photo's displayed size";
    EXPECT_TRUE(std::filesystem::exists(r["overlay"].get<std::string>()));
  }
  EXPECT_EQ(ok, 30);
}

TEST(CliModel, ImportExportRoundTrip) {
  TrainedWorkspace w;
  ASSERT_EQ(run_wms("model export " + qp(w.bundle) + " --out " + qp(w.t / "m.pth")).exit_code, 0);
  ASSERT_EQ(run_wms("model import " + qp(w.t / "m.pth") + " --input-size 32 --out " + qp(w.t / "m2.wms")).exit_code, 0);
  auto a =
      run_wms("predict --json --model " + qp(w.bundle) + " " + qp(w.t / "b" / "images") + " --out " + qp(w.t / "o1"));
  auto b = run_wms("predict --json --model " + qp(w.t / "m2.wms") + " " + qp(w.t / "b" / "images") + " --out " +
                   qp(w.t / "o2"));
  for (auto& e : std::filesystem::directory_iterator(w.t / "o1"))
    if (e.path().extension() == ".png")
      EXPECT_EQ(util::read_file(e.path()), util::read_file(w.t / "o2" / e.path().filename())) << e.path();
  auto bad = run_wms("model import " + qp(w.bundle) + " --out " + qp(w.t / "x.wms"));
  // The user's files, refused as invalid input (3); 6 is for damage to wms's own store.
  EXPECT_EQ(bad.exit_code, 3) << "a bundle is not a .pth";
  EXPECT_NE(bad.err.find("wms model bundle"), std::string::npos) << bad.err;
  EXPECT_EQ(run_wms("eval --model " + qp(w.t / "m.pth") + " -w " + qp(w.ws)).exit_code, 3) << "a .pth is not a bundle";
}

TEST(CliModel, TrainOutsideAWorkspaceNeedsOut) {
  TempDir t;
  run_wms("synth --out " + qp(t / "b") + " --count 12 --size 96");
  auto r = run_wms("train -w " + qp(t / "none") + " --data " + qp(t / "b") + " --epochs 1 --input-size 32");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  auto ok = run_wms("train -w " + qp(t / "none") + " --data " + qp(t / "b") + " --epochs 1 --input-size 32 --out " +
                    qp(t / "m.wms"));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(std::filesystem::exists(t / "m.wms"));
}

// Options given on the command line are checked by the same rules as wms.yaml's, and
// the message names the option's key, the rule and what was found.
TEST(CliModel, CommandLineOptionsAreValidatedLikeTheConfig) {
  TempDir t;
  run_wms("synth --out " + qp(t / "b") + " --count 4 --size 96");
  auto train = [&](const std::string& flags) {
    return run_wms("train -w " + qp(t / "none") + " --data " + qp(t / "b") + " --out " + qp(t / "m.wms") + " " + flags);
  };
  struct Case {
    std::string flags, key, found;
  };
  for (const Case& c :
       {Case{"--lr -1", "training.learning_rate", "found -1"},
        Case{"--input-size 500", "model.input_size", "found 500"}, Case{"--epochs 0", "training.epochs", "found 0"},
        Case{"--batch-size 0", "training.batch_size", "found 0"},
        Case{"--precision fp64", "training.precision", "fp64"}}) {
    auto r = train(c.flags);
    EXPECT_EQ(r.exit_code, 3) << c.flags << ": " << r.err;
    EXPECT_NE(r.err.find(c.key), std::string::npos) << c.flags << ": " << r.err;
    EXPECT_NE(r.err.find(c.found), std::string::npos) << c.flags << ": " << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(t / "m.wms"));
}

TEST(CliModel, CtrlCDuringTrainingStopsCleanly) {
  TempDir t;
  run_wms("synth --out " + qp(t / "b") + " --count 40 --size 96");
  std::string cmd = "train -w " + qp(t / "none") + " --data " + qp(t / "b") + " --epochs 500 --input-size 64 --out " +
                    qp(t / "m.wms");
  auto r = testing::run_shell("timeout --preserve-status -s INT 4 " + std::string(WMS_BIN) + " " + cmd);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(t / "m.wms")) << "no half-trained model is written";
}

}  // namespace
}  // namespace wms

namespace wms {
namespace {

using testing::run_wms;
using testing::TempDir;

std::string qr(const std::filesystem::path& p) {
  return "'" + p.string() + "'";
}

TEST(CliRegistry, TrainRegistersPromoteGateRollbackHistory) {
  TempDir t;
  auto ws = t / "ws";
  run_wms("init " + qr(ws));
  // A permissive floor so that a 1-epoch model can become production.
  util::append_line(ws / "wms.yaml", "gate:\n  floor: 0.0");
  run_wms("synth --out " + qr(t / "b") + " --count 40 --size 96");
  run_wms("data add -w " + qr(ws) + " " + qr(t / "b"));
  auto t1 = nlohmann::json::parse(run_wms("train --json -w " + qr(ws) + " --epochs 1 --input-size 32").out);
  auto t2 = nlohmann::json::parse(run_wms("train --json -w " + qr(ws) + " --epochs 2 --input-size 32 --seed 3").out);
  EXPECT_EQ(t1["model_version"], 1);
  EXPECT_EQ(t2["model_version"], 2);

  auto runs = nlohmann::json::parse(run_wms("runs list --json -w " + qr(ws)).out);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["status"], "success");
  std::string run2 = t2["run_id"];
  auto show = nlohmann::json::parse(run_wms("runs show --json -w " + qr(ws) + " " + run2).out);
  EXPECT_EQ(show["params"]["epochs"], 2);
  EXPECT_TRUE(show["metrics"].contains("val_dice"));
  EXPECT_EQ(show["artifacts"][0]["name"], "model.wms");
  auto series = nlohmann::json::parse(run_wms("runs metrics --json -w " + qr(ws) + " " + run2).out);
  EXPECT_EQ(series["train_loss"].size(), 2u);

  // No production yet: the gate compares with the floor (0 here) and promotes.
  auto g1 = run_wms("gate --json -w " + qr(ws) + " --candidate 1");
  EXPECT_EQ(g1.exit_code, 0) << g1.err;
  EXPECT_TRUE(nlohmann::json::parse(g1.out)["champion"].is_null());
  ASSERT_EQ(run_wms("models promote -w " + qr(ws) + " 1 --reason 'first'").exit_code, 0);
  EXPECT_EQ(run_wms("models promote -w " + qr(ws) + " 1").exit_code, 2) << "--reason is required";
  // Same model against itself: a tie keeps production (exit 10).
  EXPECT_EQ(run_wms("gate -w " + qr(ws) + " --candidate production").exit_code, 10);
  ASSERT_EQ(run_wms("models promote -w " + qr(ws) + " 2 --reason 'second'").exit_code, 0);
  auto list = nlohmann::json::parse(run_wms("models list --json -w " + qr(ws)).out);
  EXPECT_EQ(list[0]["aliases"][0], "production");
  EXPECT_EQ(list[1]["aliases"][0], "previous");
  // Point in time: before anything, production did not exist.
  auto at = nlohmann::json::parse(run_wms("models history --json -w " + qr(ws) + " --at 2020-01-01T00:00:00Z").out);
  EXPECT_TRUE(at["version"].is_null());
  ASSERT_EQ(run_wms("models rollback -w " + qr(ws) + " --reason 'regression'").exit_code, 0);
  auto hist = nlohmann::json::parse(run_wms("models history --json -w " + qr(ws)).out);
  ASSERT_EQ(hist.size(), 3u);
  EXPECT_EQ(hist[2]["version"], 1);
  EXPECT_EQ(hist[2]["reason"], "regression");
  EXPECT_EQ(hist[2]["action"], "rollback");
  // A second rollback has nothing before version 1: refused (exit 4), production stays.
  EXPECT_EQ(run_wms("models rollback -w " + qr(ws)).exit_code, 4);
  EXPECT_NE(run_wms("models history -w " + qr(ws)).out.find("rollback 2 -> 1"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(ws / "models" / "production_current.json"));
  // Lineage both ways.
  auto lin = nlohmann::json::parse(run_wms("models lineage --json -w " + qr(ws) + " 1").out);
  EXPECT_EQ(lin["run"]["id"], t1["run_id"]);
  EXPECT_GE(lin["alias_events"].size(), 2u);
  auto dl = nlohmann::json::parse(run_wms("models lineage --json -w " + qr(ws) + " --dataset head").out);
  EXPECT_EQ(dl["models"].size(), 2u);
  // --model accepts versions and aliases.
  EXPECT_EQ(run_wms("eval -w " + qr(ws) + " --model production --split all").exit_code, 0);
  EXPECT_EQ(run_wms("eval -w " + qr(ws) + " --model v9").exit_code, 4);
}

}  // namespace
}  // namespace wms
