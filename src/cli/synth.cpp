#include "wms/data/synth.hpp"
#include "cli/command.hpp"

namespace wms::cli {

namespace {

struct SynthArgs {
  std::string dir;
  data::SynthOptions o;
};

}  // namespace

void add_synth(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("synth", "generate synthetic meter photos and masks: DIR/images, DIR/masks");
  auto a = std::make_shared<SynthArgs>();
  app->add_option("--out,-o", a->dir, "output folder")->required();
  app->add_option("--count,-n", a->o.count, "number of pairs")->capture_default_str();
  app->add_option("--seed", a->o.seed, "random seed (same seed, same files)")->capture_default_str();
  app->add_option("--size", a->o.long_side, "long side of each photo in pixels")->capture_default_str();
  app->add_option("--exif-share", a->o.exif_share, "share of photos stored rotated with an EXIF tag")
      ->capture_default_str();
  app->add_option("--first-id", a->o.first_id, "N of the first id_<N>_value_... name")->capture_default_str();
  add_common_options(*app, g, true, true);
  out.push_back(
      {app, [a, &g] {
         a->o.threads = g.threads;
         auto r = data::synthesize(a->dir, a->o);
         if (g.json)
           print_json({{"out", a->dir}, {"written", r.written}, {"with_exif", r.with_exif}, {"seconds", r.seconds}});
         else
           std::printf("wrote %d pairs to %s (%d with EXIF orientation) in %.1fs\n", r.written, a->dir.c_str(),
                       r.with_exif, r.seconds);
         return kExitOk;
       }});
}

}  // namespace wms::cli
