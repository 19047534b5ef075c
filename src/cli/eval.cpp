#include <optional>

#include "cli/command.hpp"
#include "cli/inputs.hpp"
#include "wms/train/evaluator.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::cli {

namespace {

struct EvalArgs {
  std::string model_ref;
  std::string data_ref;
  std::string split = "test";
  std::string per_image;
  std::size_t worst = 0;
  std::string out_dir;
  train::Device device = train::Device::kAuto;
  nn::Region region = nn::Region::kAll;
  bool no_full = false;
  bool flip = false;
  bool raw = false;
  int score_size = 512;
  std::vector<double> scales;
  std::optional<double> extra_scales_window_below;
  train::Precision precision = train::Precision::kAuto;
};

}  // namespace

void add_eval(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("eval",
                                  "score a model on a split of a dataset version or folder (Dice, IoU, "
                                  "accuracy, Hausdorff; at input size and at full resolution)");
  auto a = std::make_shared<EvalArgs>();
  app->add_option("--model,-m", a->model_ref, "model bundle")->required();
  app->add_option("--data,-d", a->data_ref, "dataset version (default: head) or folder");
  app->add_option("--split", a->split, "train | val | test | all")->capture_default_str();
  app->add_option("--per-image", a->per_image, "write per-image scores to FILE (.csv or .json)");
  auto* worst = app->add_option(
      "--worst", a->worst, "write overlays of the N photos with the lowest Dice (prediction vs mask) to --out DIR");
  worst->needs(app->add_option("--out", a->out_dir, "folder for --worst's overlays")->needs(worst));
  auto* region = add_names_option(*app, "--region", a->region, nn::kRegionNames,
                                  "regions the mask keeps: all | largest | window (as model.region)")
                     ->default_str("");
  app->add_flag("--flip-average", a->flip, "also predict on the mirror image and average (as model.flip_average)");
  app->add_option("--scales", a->scales,
                  "views at these multiples of the input size, combined by maximum (as model.scales)")
      ->delimiter(',');
  app->add_option("--extra-scales-window-below", a->extra_scales_window_below,
                  "the views after the first only for photos whose first view finds a window smaller than this "
                  "share of the photo, or none; 1 = always (as model.extra_scales_window_below)");
  app->add_flag("--raw", a->raw,
                "score the bare network: one scale, no flip averaging, every region, whatever the model says");
  app->add_flag("--no-full-resolution", a->no_full, "do not also score at each photo's own size");
  app->add_option("--score-size", a->score_size, "score at SxS as the original did (0: the model's input size)")
      ->capture_default_str();
  add_device_option(*app, a->device);
  add_names_option(*app, "--precision", a->precision, train::kPrecisionNames,
                   "of the forward pass: auto | fp32 | bf16");
  add_common_options(*app, g, true, true);
  out.push_back({app, [a, &g, region] {
                   auto model = load_model(g, a->model_ref);
                   auto& mc = model.info().config;
                   if (a->raw) {
                     mc.flip_average = false;
                     mc.region = nn::Region::kAll;
                     mc.scales = {1.0};
                   }
                   if (a->flip) mc.flip_average = true;
                   if (region->count() > 0) mc.region = a->region;
                   if (!a->scales.empty()) mc.scales = a->scales;
                   if (a->extra_scales_window_below) mc.extra_scales_window_below = *a->extra_scales_window_below;
                   nn::validate(mc);
                   auto sel = select_data(g, a->data_ref);
                   std::vector<train::Sample> samples;
                   if (a->split == "all")
                     samples = sel.samples;
                   else if (a->split == "train")
                     samples = train::only(sel.samples, data::Split::kTrain);
                   else if (a->split == "val")
                     samples = train::only(sel.samples, data::Split::kVal);
                   else if (a->split == "test")
                     samples = train::only(sel.samples, data::Split::kTest);
                   else
                     throw InvalidInput("--split {}: must be train, val, test or all", a->split);
                   if (samples.empty()) throw InvalidInput("{}: the {} split is empty", sel.label, a->split);
                   train::EvalOptions o;
                   o.threads = g.threads;
                   o.device = a->device;
                   o.full_resolution = !a->no_full;
                   o.score_size = a->score_size;
                   o.precision = a->precision;
                   auto r = train::evaluate(model, samples, o);
                   if (!a->per_image.empty())
                     util::atomic_write(a->per_image,
                                        a->per_image.ends_with(".json") ? r.to_json(true).dump(2) + "\n" : r.to_csv());
                   std::vector<std::filesystem::path> worst;
                   if (a->worst > 0) worst = train::write_worst(model, samples, r, a->worst, a->out_dir, o);
                   if (g.json) {
                     auto j = r.to_json(false);
                     j["model"] = a->model_ref;
                     j["data"] = sel.label;
                     j["split"] = a->split;
                     if (a->worst > 0) {
                       j["worst"] = nlohmann::json::array();
                       for (const auto& f : worst) j["worst"].push_back(f.string());
                     }
                     print_json(j);
                     return kExitOk;
                   }
                   std::printf("%s on %s, split %s: %zu images in %.1fs", a->model_ref.c_str(), sel.label.c_str(),
                               a->split.c_str(), r.images.size(), r.seconds);
                   if (mc.scales.size() > 1) std::printf(" (%zu looked at in every scale)", r.extra_views);
                   std::printf("\n");
                   std::printf("  %-22s %8s %8s %9s %10s\n", "", "dice", "iou", "accuracy", "hausdorff");
                   std::printf("  %-22s %8.4f %8.4f %9.4f %10.2f\n",
                               ("at " + std::to_string(r.score_size) + " px").c_str(), r.mean_input.dice,
                               r.mean_input.iou, r.mean_input.accuracy, r.mean_input.hausdorff);
                   if (o.full_resolution)
                     std::printf("  %-22s %8.4f %8.4f %9.4f %10.2f\n", "at full resolution", r.mean_full.dice,
                                 r.mean_full.iou, r.mean_full.accuracy, r.mean_full.hausdorff);
                   if (!worst.empty()) {
                     std::printf("the %zu lowest Dice (green: both, red: predicted only, blue: missed):\n",
                                 worst.size());
                     for (const auto& f : worst) std::printf("  %s\n", f.string().c_str());
                   }
                   return kExitOk;
                 }});
}

}  // namespace wms::cli
