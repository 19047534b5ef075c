// `wms demo`: the README's main job, end to end on data wms makes itself.
// Today: generate batches, validate them, version them, refuse a bad batch, and
// print the dataset summary. Runs in a folder of its own (default ./wms-demo).
#include <fmt/format.h>

#include "cli/command.hpp"
#include "wms/data/dataset.hpp"
#include "wms/data/ingest.hpp"
#include "wms/data/synth.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::cli {
namespace {

int step = 0;
void say(const std::string& what) { std::printf("\n== %d. %s\n", ++step, what.c_str()); }

void add(const data::Workspace& ws, const std::filesystem::path& batch, unsigned threads) {
  auto options = data::validation_options(ws.config());
  options.threads = threads;
  auto lock = ws.lock();
  auto r = data::add_batch(ws, data::BatchSource::from_dir(batch), options, "demo: " + batch.filename().string());
  std::fputs(r.validation.report.to_text().c_str(), stdout);
  if (r.accepted) std::printf("-> accepted as dataset version %s (%zu pairs)\n", r.version->short_id().c_str(), r.version->pairs);
  else std::printf("-> refused: nothing changed\n");
}

}  // namespace

void add_demo(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("demo", "run the main job end to end on generated data (in ./wms-demo)");
  static std::string dir = "wms-demo";
  static int count = 200;
  app->add_option("--dir", dir, "demo folder (made fresh each run)")->capture_default_str();
  app->add_option("--count", count, "pairs in the first batch")->capture_default_str();
  add_common_options(*app, g, false, true);
  out.push_back({app, [&g] {
    namespace fs = std::filesystem;
    fs::path root = dir;
    std::error_code ec;
    if (fs::exists(root, ec)) {
      if (!fs::exists(root / ".wms" / "demo", ec))
        throw Conflict("{}: exists and was not made by `wms demo`; choose another --dir", root.string());
      fs::remove_all(root, ec);
    }
    auto ws = data::Workspace::init(root / "workspace");
    util::make_dirs(root / ".wms");
    util::atomic_write(root / ".wms" / "demo", "made by wms demo\n");

    say(fmt::format("generate {} synthetic meter photos with masks (batch-1)", count));
    data::SynthOptions so;
    so.count = count;
    so.seed = 1;
    so.threads = g.threads;
    auto r1 = data::synthesize(root / "batches" / "batch-1", so);
    std::printf("%d pairs, %d stored rotated with an EXIF orientation tag, %.1fs\n", r1.written, r1.with_exif, r1.seconds);

    say("validate batch-1 and add it as the first dataset version");
    add(ws, root / "batches" / "batch-1", g.threads);

    say("a second batch arrives (batch-2, 50 pairs)");
    so.count = 50;
    so.seed = 2;
    so.first_id = count + 1;
    data::synthesize(root / "batches" / "batch-2", so);
    add(ws, root / "batches" / "batch-2", g.threads);

    say("a bad batch arrives: truncated, empty, orphaned, misaligned and bomb files");
    data::synthesize_bad(root / "batches" / "bad");
    add(ws, root / "batches" / "bad", g.threads);

    say("dataset summary");
    data::Dataset ds(ws);
    auto head = ds.head();
    auto samples = ds.samples(*head);
    std::size_t n[3] = {0, 0, 0};
    for (const auto& s : samples) ++n[static_cast<int>(s.split)];
    std::printf("head: dataset version %s, %zu pairs (train %zu / val %zu / test %zu)\n", head->short_id().c_str(),
                head->pairs, n[0], n[1], n[2]);
    for (const auto& v : ds.log()) std::printf("  %s  %s  %4zu pairs  %s\n", v.short_id().c_str(), v.created.c_str(), v.pairs, v.message.c_str());
    std::printf("DVC pointer files: %s.dvc, %s.dvc\n", ws.images_dir().c_str(), ws.masks_dir().c_str());
    std::printf("\ndemo workspace: %s (try: wms data status -w %s)\n", ws.root().c_str(), ws.root().c_str());
    return kExitOk;
  }});
}

}  // namespace wms::cli
