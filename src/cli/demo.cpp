// `wms demo`: the README's main job, the whole loop on data wms makes itself, in a
// folder of its own (default ./wms-demo, made fresh each run):
//   1. a first batch -> the first production model
//   2. a second batch -> a better model, promoted
//   3. a bad batch -> refused at validation, nothing changes
//   4. a batch trained too briefly (1 epoch) -> gated, does not improve: neither the
//      model nor the data is accepted; the batch is kept as a rejected submission
// then the run list and the models.
#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "cli/command.hpp"
#include "wms/data/synth.hpp"
#include "wms/image/decode.hpp"
#include "wms/pipeline/pipeline.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/signals.hpp"

namespace wms::cli {
namespace {

namespace fs = std::filesystem;

// Settings small enough for a few minutes on 2 cores (written into the demo's wms.yaml).
const char* kDemoConfig = R"(
# demo settings: small photos, short training
model: {input_size: 96}
training:
  epochs: 10
  batch_size: 8
  learning_rate: 0.003
  loss: bce_dice
  scheduler: {kind: onecycle}
  select: val_dice
  foreground_prior_bias: true
  early_stopping_patience: 0
  precision: auto
pipeline: {attempts: 2}
gate: {floor: 0.5, min_improvement: 0.002}
)";

}  // namespace

namespace {

struct DemoArgs {
  std::string dir = "wms-demo";
  int count = 120;
};

}  // namespace

void add_demo(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("demo",
                                  "run the whole loop on generated data (in ./wms-demo): four batches "
                                  "through the pipeline, then the run list");
  auto a = std::make_shared<DemoArgs>();
  app->add_option("--dir", a->dir, "demo folder (made fresh each run)")->capture_default_str();
  app->add_option("--count", a->count, "pairs in each of the first two batches")->capture_default_str();
  add_common_options(*app, g, false, true);
  out.push_back(
      {app, [a, &g] {
         util::install_interrupt_handler();
         fs::path root = a->dir;
         std::error_code ec;
         if (fs::exists(root, ec)) {
           if (!fs::exists(root / ".wms-demo", ec))
             throw Conflict("{}: exists and was not made by `wms demo`; choose another --dir", root.string());
           for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
                it.increment(ec))
             fs::permissions(it->path(), fs::perms::owner_write, fs::perm_options::add, ec);
           fs::remove_all(root, ec);
         }
         util::make_dirs(root);
         util::atomic_write(root / ".wms-demo", "made by wms demo\n");
         auto ws0 = data::Workspace::init(root / "workspace");
         util::append_line(ws0.config_path(), kDemoConfig);
         auto ws = data::Workspace::open(ws0.root());  // re-read the config

         auto batch = [&](const std::string& name, int n, int first_id, std::uint64_t seed) {
           data::SynthOptions so;
           so.count = n;
           so.seed = seed;
           so.first_id = first_id;
           so.long_side = 192;
           so.threads = g.threads;
           data::synthesize(root / "batches" / name, so);
           return root / "batches" / name;
         };
         int step = 0;
         auto say = [&](const std::string& what) {
           std::printf("\n== %d. %s\n", ++step, what.c_str());
           std::fflush(stdout);
         };
         pipeline::Options o;
         o.threads = g.threads;
         o.should_stop = [] { return util::interrupted(); };
         o.log = [](const std::string& line) {
           std::printf("   %s\n", line.c_str());
           std::fflush(stdout);
         };
         auto run = [&](const fs::path& b) {
           o.batch = data::BatchSource::from_dir(b);
           auto r = pipeline::run(ws, o);
           std::printf("-> %s (exit code %d)\n", pipeline::outcome_name(r.outcome).c_str(),
                       pipeline::outcome_exit_code(r.outcome, r.state.error_code));
           if (r.outcome == pipeline::Outcome::kFailed || r.outcome == pipeline::Outcome::kCancelled)
             throw Internal("demo: the pipeline {}: {}", pipeline::outcome_name(r.outcome), r.state.error);
           return r.outcome;
         };

         say(fmt::format("batch-1: {} synthetic meter photos; no production model yet", a->count));
         run(batch("batch-1", a->count, 1, 1));
         say(fmt::format("batch-2: {} more photos; the model trained on all of them should be better", a->count));
         run(batch("batch-2", a->count, a->count + 1, 2));
         say("a bad batch: truncated, empty, orphaned, misaligned and decompression-bomb files");
         data::synthesize_bad(root / "batches" / "bad");
         run(root / "batches" / "bad");
         say("batch-4: good photos, but the training is cut short (1 epoch): the gate keeps production");
         std::string rushed(kDemoConfig);
         rushed.replace(rushed.find("epochs: 10"), 10, "epochs: 1");
         util::atomic_write(root / "rushed.yaml", rushed);
         o.config_ref = (root / "rushed.yaml").string();
         o.attempts = 1;
         run(batch("batch-4", a->count / 2, 2 * a->count + 1, 4));

         say("pipeline runs (wms pipeline list), models (wms models list)");
         auto reg = registry::open(ws);
         for (auto& r : reg.list_runs(10, "pipeline"))
           std::printf("  %s  %-13s %s\n", r.id.c_str(), r.tags.value("outcome", "").c_str(),
                       fs::path(r.params.value("images", nlohmann::json("")).get<std::string>())
                           .parent_path()
                           .filename()
                           .c_str());
         for (auto& m : reg.list_models())
           std::printf("  model %d  test dice %.4f  %s\n", m.version, m.metrics.value("test_dice", 0.0),
                       fmt::format("{}", fmt::join(m.aliases, ",")).c_str());
         std::printf("\ndemo workspace: %s\n  try: wms pipeline list -w %s\n       wms models history -w %s\n",
                     ws.root().c_str(), ws.root().c_str(), ws.root().c_str());
         return kExitOk;
       }});
}

}  // namespace wms::cli
