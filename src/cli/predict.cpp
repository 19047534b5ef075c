#include <fmt/format.h>

#include <filesystem>

#include "cli/command.hpp"
#include "cli/inputs.hpp"
#include "wms/image/decode.hpp"
#include "wms/train/predictor.hpp"
#include "wms/train/runtime.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/progress.hpp"

namespace wms::cli {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<fs::path> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(in, ec)) {
        std::string ext = e.path().extension().string();
        for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) found.push_back(e.path());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(in, ec)) {
      files.push_back(in);
    } else {
      throw NotFound("{}: no such file or folder", in);
    }
  }
  return files;
}

}  // namespace

namespace {

struct PredictArgs {
  std::string model_ref;
  std::string out_dir;
  train::Device device = train::Device::kAuto;
  train::Precision precision = train::Precision::kAuto;
  std::vector<std::string> inputs;
  bool with_overlay = false;
  nn::Region region = nn::Region::kAll;
  bool probabilities = false;
};

}  // namespace

void add_predict(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("predict",
                                  "write a mask (PNG, the photo's size, EXIF orientation applied) "
                                  "for each photo; exit 3 if any photo could not be read");
  auto a = std::make_shared<PredictArgs>();
  app->add_option("--model,-m", a->model_ref, "model bundle")->required();
  app->add_option("INPUT", a->inputs, "photos or folders of photos")->required();
  app->add_option("--out,-o", a->out_dir, "output folder")->required();
  app->add_flag("--overlay", a->with_overlay, "also write <stem>.overlay.jpg: the mask drawn over the photo");
  auto* region = add_names_option(*app, "--region", a->region, nn::kRegionNames,
                                  "regions the mask keeps: all | largest | window (default: the model's model.region)")
                     ->default_str("");
  app->add_flag("--probabilities", a->probabilities,
                "also write <stem>.prob.npy: the model's probabilities at its input size (float32, NumPy format)");
  add_device_option(*app, a->device);
  add_names_option(*app, "--precision", a->precision, train::kPrecisionNames,
                   "of the forward pass: auto | fp32 | bf16");
  add_common_options(*app, g, true, true);
  out.push_back(
      {app, [a, &g, region] {
         auto files = expand_inputs(a->inputs);
         train::PredictOptions po;
         po.device = a->device;
         po.threads = g.threads;
         po.precision = a->precision;
         auto model = load_model(g, a->model_ref);
         if (region->count() > 0) model.info().config.region = a->region;
         train::Predictor predictor(model, po);
         util::make_dirs(a->out_dir);
         nlohmann::json results = nlohmann::json::array();
         int failed = 0;
         util::Progress progress("predict", files.size());
         for (const auto& f : files) {
           nlohmann::json r = {{"input", f.string()}};
           try {
             auto bytes = util::read_file(f, 100ull << 20);
             auto decoded = image::decode_image(bytes, f.string());
             auto p = predictor.predict(decoded.pixels);
             fs::path mask_path = fs::path(a->out_dir) / (f.stem().string() + ".png");
             util::atomic_write(mask_path, image::encode_png(p.mask));
             r["mask"] = mask_path.string();
             if (a->with_overlay) {
               fs::path ov = fs::path(a->out_dir) / (f.stem().string() + ".overlay.jpg");
               util::atomic_write(ov, image::encode_jpeg(train::overlay(decoded.pixels, p.mask), 90));
               r["overlay"] = ov.string();
             }
             if (a->probabilities) {
               fs::path np = fs::path(a->out_dir) / (f.stem().string() + ".prob.npy");
               util::atomic_write(np, image::encode_npy_float32(p.probability));
               r["probabilities"] = np.string();
             }
             r["width"] = p.mask.cols;
             r["height"] = p.mask.rows;
             r["area"] = p.area;
             r["bbox"] =
                 p.area ? nlohmann::json{{"x", p.bbox.x}, {"y", p.bbox.y}, {"w", p.bbox.width}, {"h", p.bbox.height}}
                        : nlohmann::json(nullptr);
             r["mean_confidence"] = p.mean_confidence;
             r["views"] = p.views;
             r["ms"] = {
                 {"preprocess", p.ms_preprocess}, {"inference", p.ms_inference}, {"postprocess", p.ms_postprocess}};
           } catch (const InvalidInput& e) {
             r["error"] = e.what();
             ++failed;
             if (!g.json) std::fprintf(stderr, "wms: %s\n", e.what());
           }
           results.push_back(r);
           progress.tick();
         }
         util::atomic_write(fs::path(a->out_dir) / "predictions.json", results.dump(2) + "\n");
         if (g.json)
           print_json(results);
         else
           std::printf("wrote %zu masks to %s (%d failed); summary: %s/predictions.json\n", files.size() - failed,
                       a->out_dir.c_str(), failed, a->out_dir.c_str());
         return failed ? exit_code_for(ErrorCode::kInvalidInput) : kExitOk;
       }});
}

}  // namespace wms::cli
