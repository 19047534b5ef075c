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

// A single-channel float image as a NumPy .npy file (format 1.0, little-endian, C order).
std::string npy_float32(const cv::Mat& m) {
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", m.rows, m.cols);
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  cv::Mat c = m.isContinuous() ? m : m.clone();
  out.append(reinterpret_cast<const char*>(c.ptr<float>()), c.total() * sizeof(float));
  return out;
}

}  // namespace

void add_predict(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("predict", "write a mask (PNG, the photo's size, EXIF orientation applied) "
                                             "for each photo; exit 3 if any photo could not be read");
  static std::string model_ref, out_dir, device = "auto", precision = "auto";
  static std::vector<std::string> inputs;
  static bool with_overlay = false, largest = false, probabilities = false;
  app->add_option("--model,-m", model_ref, "model bundle")->required();
  app->add_option("INPUT", inputs, "photos or folders of photos")->required();
  app->add_option("--out,-o", out_dir, "output folder")->required();
  app->add_flag("--overlay", with_overlay, "also write <stem>.overlay.jpg: the mask drawn over the photo");
  app->add_flag("--largest-component", largest, "keep only the largest predicted region");
  app->add_flag("--probabilities", probabilities,
                "also write <stem>.prob.npy: the model's probabilities at its input size (float32, NumPy format)");
  add_device_option(*app, device);
  app->add_option("--precision", precision, "fp32 | bf16 | auto")->capture_default_str();
  add_common_options(*app, g, true, true);
  out.push_back({app, [&g] {
    auto files = expand_inputs(inputs);
    train::PredictOptions po;
    po.device = device;
    po.threads = g.threads;
    po.largest_component = largest;
    po.precision = precision;
    train::Predictor predictor(load_model(g, model_ref), po);
    util::make_dirs(out_dir);
    nlohmann::json results = nlohmann::json::array();
    int failed = 0;
    util::Progress progress("predict", files.size());
    for (const auto& f : files) {
      nlohmann::json r = {{"input", f.string()}};
      try {
        auto bytes = util::read_file(f, 100ull << 20);
        auto decoded = image::decode_image(bytes, f.string());
        auto p = predictor.predict(decoded.pixels);
        fs::path mask_path = fs::path(out_dir) / (f.stem().string() + ".png");
        util::atomic_write(mask_path, image::encode_png(p.mask));
        r["mask"] = mask_path.string();
        if (with_overlay) {
          fs::path ov = fs::path(out_dir) / (f.stem().string() + ".overlay.jpg");
          util::atomic_write(ov, image::encode_jpeg(train::overlay(decoded.pixels, p.mask), 90));
          r["overlay"] = ov.string();
        }
        if (probabilities) {
          fs::path np = fs::path(out_dir) / (f.stem().string() + ".prob.npy");
          util::atomic_write(np, npy_float32(p.probability));
          r["probabilities"] = np.string();
        }
        r["width"] = p.mask.cols;
        r["height"] = p.mask.rows;
        r["area"] = p.area;
        r["bbox"] = p.area ? nlohmann::json{{"x", p.bbox.x}, {"y", p.bbox.y}, {"w", p.bbox.width}, {"h", p.bbox.height}}
                           : nlohmann::json(nullptr);
        r["mean_confidence"] = p.mean_confidence;
        r["ms"] = {{"preprocess", p.ms_preprocess}, {"inference", p.ms_inference}, {"postprocess", p.ms_postprocess}};
      } catch (const InvalidInput& e) {
        r["error"] = e.what();
        ++failed;
        if (!g.json) std::fprintf(stderr, "wms: %s\n", e.what());
      }
      results.push_back(r);
      progress.tick();
    }
    util::atomic_write(fs::path(out_dir) / "predictions.json", results.dump(2) + "\n");
    if (g.json) print_json(results);
    else std::printf("wrote %zu masks to %s (%d failed); summary: %s/predictions.json\n", files.size() - failed,
                     out_dir.c_str(), failed, out_dir.c_str());
    return failed ? exit_code_for(ErrorCode::kInvalidInput) : kExitOk;
  }});
}

}  // namespace wms::cli
