// wms side of the model benchmarks. Prints a human line and a RESULT line per
// measurement, in the format of ../shared/bench/peer_unet.py, so that
// `peer_unet.py table` puts wms and the PyTorch peer in one table.
//
//   bench_model step    --size 512 --batch 4 [--format cl|nchw] [--precision fp32|bf16]
//   bench_model infer   --size 512 --batch 1 [--format ...] [--precision ...]
//   bench_model latency --images DIR [--n 20] [--precision ...]   decode -> mask at full size
//   bench_model epoch   --data DIR --images 48 --size 512 [--precision ...] [--config water-meters]
//   bench_model step    ... --profile   adds the time per operator of one more step
//   bench_model infer   ... --compare-aten   the folded forward with oneDNN's fused convolutions vs ATen's
//   bench_model upcat   --batch 8 [--precision ...]   the decoder's upsample + concatenate
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "wms/nn/autocast.hpp"
#include "wms/nn/losses.hpp"
#include "wms/nn/model_impl.hpp"
#include "wms/nn/upsample.hpp"
#include "wms/train/config.hpp"
#include "wms/train/predictor.hpp"
#include "wms/train/runtime.hpp"
#include "wms/train/trainer.hpp"
#include "wms/util/allocator.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/parallel.hpp"

namespace {

using namespace wms;
using Clock = std::chrono::steady_clock;

bool g_tuned = true;

double analytic_forward_flops(int s) {  // same table as peer_unet.py
  const int b = 16;
  struct L {
    int cin, cout, k, hw;
  };
  std::vector<L> ls;
  int blocks[9][3] = {{3, b, s},
                      {b, 2 * b, s / 2},
                      {2 * b, 4 * b, s / 4},
                      {4 * b, 8 * b, s / 8},
                      {8 * b, 16 * b, s / 16},
                      {24 * b, 8 * b, s / 8},
                      {12 * b, 4 * b, s / 4},
                      {6 * b, 2 * b, s / 2},
                      {3 * b, b, s}};
  double f = 0;
  for (auto& bl : blocks) {
    f += 2.0 * bl[0] * bl[1] * 9 * bl[2] * bl[2];
    f += 2.0 * bl[1] * bl[1] * 9 * bl[2] * bl[2];
  }
  f += 2.0 * b * 1 * s * s;
  return f;
}

void emit(const std::string& bench, const std::string& variant, std::vector<double> ms, double flop, int items) {
  std::sort(ms.begin(), ms.end());
  auto q = [&](double p) { return ms[static_cast<std::size_t>(p * (ms.size() - 1) + 0.5)]; };
  double med = ms.size() % 2 ? ms[ms.size() / 2] : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
  int thr = at::get_num_threads();
  std::string extra;
  if (flop > 0) extra += fmt::format("  {:8.1f} GFLOP/s", flop / med / 1e6);
  if (items > 0) extra += fmt::format("  {:8.2f} img/s", items * 1e3 / med);
  std::printf("cpp %-14s %-28s thr=%d malloc=%-7s median %10.2f ms  [min %.2f, max %.2f, n=%zu]%s\n", bench.c_str(),
              variant.c_str(), thr, g_tuned ? "tuned" : "default", med, ms.front(), ms.back(), ms.size(),
              extra.c_str());
  std::printf("RESULT\tcpp\t%s\t%s\t%d\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%zu\t%.0f\t%d\n", bench.c_str(),
              variant.c_str(), thr, g_tuned ? "tuned" : "default", med, ms.front(), ms.back(), q(0.25), q(0.75),
              ms.size(), flop, items);
  std::fflush(stdout);
}

std::vector<double> timeit(const std::function<void()>& fn, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t = Clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
  }
  return ms;
}

void peak_memory() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("PEAKMEM\tcpp\t%.1f MiB\n", ru.ru_maxrss / 1024.0);
}

// LibTorch's profiler over one more call of `fn`: the self time per operator (an op's
// span minus the spans of the ops nested in it), the largest first.
void print_profile(const std::string& variant, const std::function<void()>& fn) {
  namespace prof = torch::autograd::profiler;
  prof::enableProfilerLegacy(prof::ProfilerConfig(prof::ProfilerState::CPU));
  fn();
  auto events = prof::disableProfilerLegacy();
  std::map<std::string, double> self_us;
  std::map<std::string, int> calls;
  for (auto& thread : events) {
    std::vector<std::pair<const prof::LegacyEvent*, double>> open;  // event, child time
    for (auto& e : thread) {
      if (e.kind() == prof::EventKind::PushRange) {
        open.emplace_back(&e, 0.0);
      } else if (e.kind() == prof::EventKind::PopRange && !open.empty()) {
        auto [start, child] = open.back();
        open.pop_back();
        double span = start->cpuElapsedUs(e);
        self_us[start->name()] += span - child;
        calls[start->name()] += 1;
        if (!open.empty()) open.back().second += span;
      }
    }
  }
  std::vector<std::pair<double, std::string>> order;
  double total = 0;
  for (auto& [name, us] : self_us) {
    order.emplace_back(us, name);
    total += us;
  }
  std::sort(order.rbegin(), order.rend());
  std::printf("profile of one call (%s): self time by operator, %.1f ms in all\n", variant.c_str(), total / 1e3);
  for (std::size_t i = 0; i < std::min<std::size_t>(order.size(), 25); ++i)
    std::printf("  %-48s %9.2f ms %5.1f%%  %4d calls\n", order[i].second.c_str(), order[i].first / 1e3,
                100 * order[i].first / total, calls[order[i].second]);
}

nn::Model make_model(int size, bool cl) {
  nn::ModelConfig c;
  c.input_size = size;
  nn::Model m(c, 0);
  if (cl) {
    torch::NoGradGuard g;
    for (auto& p : m.impl().net->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  g_tuned = util::configure_allocator();
  CLI::App app{"wms model benchmarks"};
  app.require_subcommand(1);
  int size = 512, batch = 4, warmup = 2, reps = 5, n = 20, images = 48;
  unsigned threads = 2;
  std::string format = "cl", precision = "fp32", dir;
  auto common = [&](CLI::App* s) {
    s->add_option("--size", size);
    s->add_option("--batch", batch);
    s->add_option("--format", format);
    s->add_option("--precision", precision);
    s->add_option("--warmup", warmup);
    s->add_option("--reps", reps);
    s->add_option("--threads", threads);
  };
  auto* step = app.add_subcommand("step", "one training step on random tensors");
  auto* infer = app.add_subcommand("infer", "forward pass on random tensors");
  auto* latency = app.add_subcommand("latency", "one real photo: decode -> mask at full size");
  auto* epoch = app.add_subcommand("epoch", "one training epoch over real photos, decoding included");
  auto* limit = app.add_subcommand(
      "limit", "what this CPU's convolutions can do at best: a wide 3x3 convolution, channels-last (--precision)");
  auto* upcat =
      app.add_subcommand("upcat", "the decoder's upsample + concatenate at 512 px: ATen's ops vs the fused pass");
  for (auto* s : {step, infer, latency, epoch, limit, upcat}) common(s);
  latency->add_option("--images", dir)->required();
  latency->add_option("--n", n);
  bool in_thread = false;
  latency->add_flag("--in-thread", in_thread, "run the predictions on a second thread (as a server does)");
  epoch->add_option("--data", dir)->required();
  epoch->add_option("--images", images);
  std::string config;
  epoch->add_option("--config", config,
                    "train as this preset or wms.yaml does (crops, augmentation, batch, precision); "
                    "--size and --batch are then the preset's");
  bool profile = false, compare_aten = false;
  for (auto* s : {step, infer})
    s->add_flag("--profile", profile, "print the self time per operator of one more call (LibTorch's profiler)");
  infer->add_flag("--compare-aten", compare_aten,
                  "also time the folded forward through ATen's conv2d + relu_ (three interleaved pairs) and "
                  "print the largest difference");
  CLI11_PARSE(app, argc, argv);
  train::set_compute_threads(threads);
  const bool cl = format == "cl", bf16 = precision == "bf16";
  std::string variant = fmt::format("{} b{} {}{}", size, batch, format, bf16 ? " bf16" : "");

  if (step->parsed()) {
    auto m = make_model(size, cl);
    auto& net = *m.impl().net;
    net.train();
    torch::optim::Adam opt(net.parameters(), torch::optim::AdamOptions(1e-4).weight_decay(1e-4));
    torch::manual_seed(1);
    auto x = torch::rand({batch, 3, size, size});
    if (cl) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    auto y = (torch::rand({batch, 1, size, size}) > 0.5).to(torch::kFloat32);
    auto fn = [&] {
      opt.zero_grad();
      torch::Tensor logits;
      {
        nn::Bf16Autocast mixed(bf16);
        logits = net.forward(x).to(torch::kFloat32);
      }
      auto loss = torch::binary_cross_entropy_with_logits(logits, y);
      loss.backward();
      opt.step();
    };
    emit("train", variant, timeit(fn, warmup, reps), 3 * batch * analytic_forward_flops(size), batch);
    if (profile) print_profile(variant, fn);
  } else if (infer->parsed()) {
    auto m = make_model(size, cl);
    auto& net = *m.impl().net;
    net.eval();
    auto x = torch::rand({batch, 3, size, size});
    if (cl) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    auto fn = [&] {
      torch::InferenceMode g;
      nn::Bf16Autocast mixed(bf16);
      auto out = net.forward(x).to(torch::kFloat32);
    };
    emit("infer", variant + " inference", timeit(fn, warmup, reps), batch * analytic_forward_flops(size), batch);
    // What the Predictor runs: BatchNorm folded, weights cast once, bf16 end to end.
    nn::FoldedUNet folded(net, bf16 ? torch::kBFloat16 : torch::kFloat32, torch::kCPU);
    auto ff = [&] {
      torch::InferenceMode g;
      auto out = folded.forward(x);
    };
    emit("infer", variant + " inference folded", timeit(ff, warmup, reps), batch * analytic_forward_flops(size), batch);
    if (profile) print_profile(variant + " inference folded", ff);
    if (compare_aten) {  // interleaved, three pairs: the machine drifts
      nn::FoldedUNet aten(net, bf16 ? torch::kBFloat16 : torch::kFloat32, torch::kCPU, nn::FoldedUNet::Kernels::aten);
      auto fa = [&] {
        torch::InferenceMode g;
        auto out = aten.forward(x);
      };
      for (int r = 0; r < 3; ++r) {
        emit("infer", variant + " inference folded aten", timeit(fa, warmup, reps), batch * analytic_forward_flops(size), batch);
        emit("infer", variant + " inference folded", timeit(ff, warmup, reps), batch * analytic_forward_flops(size), batch);
      }
      torch::InferenceMode g;
      auto d = (folded.forward(x) - aten.forward(x)).abs().max().item<float>();
      std::printf("max |onednn - aten| = %g\n", d);
    }
  } else if (latency->parsed()) {
    std::vector<std::string> photos;
    std::vector<std::filesystem::path> files;
    for (auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    files.resize(std::min<std::size_t>(files.size(), n));
    for (auto& f : files) photos.push_back(util::read_file(f));
    train::PredictOptions po;
    po.threads = threads;
    po.precision = wms::train::kPrecisionNames.parse(precision, "--precision");
    train::Predictor p(make_model(size, false), po);
    std::size_t i = 0;
    std::vector<double> stage[3];  // decode + preprocess, forward, masks at full size
    auto fn = [&] {
      auto r = p.predict_bytes(photos[i++ % photos.size()], "photo");
      for (auto [k, v] : {std::pair{0, r.ms_preprocess}, {1, r.ms_inference}, {2, r.ms_postprocess}})
        stage[k].push_back(v);
    };
    if (in_thread) {
      std::vector<double> ms;
      std::thread t([&] { ms = timeit(fn, warmup, photos.size() * 2); });
      t.join();
      emit("latency", fmt::format("{} b1 photo->mask thread{}", size, bf16 ? " bf16" : ""), ms, 0, 1);
      return 0;
    }
    emit("latency", fmt::format("{} b1 photo->mask{}", size, bf16 ? " bf16" : ""),
         timeit(fn, warmup, photos.size() * 2), 0, 1);
    auto median = [](std::vector<double> v) {
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      return v[v.size() / 2];
    };
    std::printf("  where a photo's time goes (median ms): decode + preprocess %.1f, forward %.1f, masks %.1f\n",
                median(stage[0]), median(stage[1]), median(stage[2]));
    // Throughput at batch `batch`: preprocess + forward + masks, per image (photos decoded
    // beforehand, as the peer does).
    std::vector<cv::Mat> decoded;
    for (auto& b : photos) decoded.push_back(image::decode_image(b, "photo").pixels);
    auto fb = [&] {
      std::vector<cv::Mat> group;
      for (int k = 0; k < batch; ++k) group.push_back(decoded[k % decoded.size()]);
      p.predict_batch(group);
    };
    emit("throughput", fmt::format("{} b{} decoded->mask{}", size, batch, bf16 ? " bf16" : ""), timeit(fb, 1, 4), 0,
         batch);
  } else if (upcat->parsed()) {
    // The U-Net decoder's four upsample + concatenate steps at 512 px (nn/upsample.hpp).
    namespace F = torch::nn::functional;
    const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
    torch::InferenceMode g;
    for (auto [cx, cs, h] :
         std::vector<std::tuple<int, int, int>>{{256, 128, 32}, {128, 64, 64}, {64, 32, 128}, {32, 16, 256}}) {
      auto x = torch::rand({batch, cx, h, h}).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
      auto s = torch::rand({batch, cs, 2 * h, 2 * h}).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
      auto up_only = [&] {
        return F::interpolate(x, F::InterpolateFuncOptions()
                                     .size(std::vector<int64_t>{2 * h, 2 * h})
                                     .mode(torch::kBilinear)
                                     .align_corners(false));
      };
      auto plain = [&] { auto y = torch::cat({up_only(), s}, 1); };
      auto fused = [&] { auto y = nn::upsample_cat(x, s); };
      emit("upcat",
           fmt::format("{}ch {}px -> {}px beside {}ch, interpolate + cat{}", cx, h, 2 * h, cs, bf16 ? " bf16" : ""),
           timeit(plain, 2, 10), 0, 0);
      emit("upcat", fmt::format("{}ch {}px -> {}px, interpolate alone{}", cx, h, 2 * h, bf16 ? " bf16" : ""),
           timeit(up_only, 2, 10), 0, 0);
      emit("upcat",
           fmt::format("{}ch {}px -> {}px beside {}ch, nn::upsample_cat{}", cx, h, 2 * h, cs, bf16 ? " bf16" : ""),
           timeit(fused, 2, 10), 0, 0);
    }
  } else if (limit->parsed()) {
    // The compute-bound end of oneDNN's convolutions: 256 -> 256 channels, 3x3, 64x64,
    // batch 8 (the U-Net's bottleneck is 128 -> 256 at 32x32); the U-Net's forward runs
    // at some fraction of this rate, as most of its layers are thin and memory-bound.
    const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
    auto x = torch::rand({8, 256, 64, 64}).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
    auto w = torch::rand({256, 256, 3, 3}).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
    auto fn = [&] {
      torch::InferenceMode g;
      auto y = torch::conv2d(x, w, {}, 1, 1);
    };
    emit("limit", fmt::format("conv3x3 256ch 64px b8{}", bf16 ? " bf16" : ""), timeit(fn, warmup, reps),
         2.0 * 8 * 256 * 256 * 9 * 64 * 64, 0);
  } else if (epoch->parsed()) {
    auto samples = train::samples_from_dir(dir, data::SplitFractions{}, data::ValidationOptions{});
    samples.resize(std::min<std::size_t>(samples.size(), images));
    train::TrainOptions o;
    if (!config.empty()) {
      o = train::train_options(train::load_train_config(config));
      size = o.model.input_size;
      batch = o.batch_size;
      precision = wms::train::kPrecisionNames.name(o.precision);
    } else {
      o.model.input_size = size;
      o.batch_size = batch;
    }
    o.time_budget_minutes = 0;
    o.epochs = 2;
    o.threads = threads;
    o.precision = wms::train::kPrecisionNames.parse(precision, "--precision");
    o.channels_last = cl;
    o.early_stopping_patience = 0;
    auto t = Clock::now();
    auto r = train::train_model(samples, {}, o);
    double total = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
    double second = r.history[1].seconds * 1e3;
    double first = total - second;  // includes decoding every photo (the sample cache)
    std::string what = config.empty()
                           ? fmt::format("{} b{} {}{}", size, batch, format, bf16 ? " bf16" : "")
                           : fmt::format("{} ({} px, crops {}, b{}, {})", config, size, o.crop_size, batch, precision);
    emit("epoch", what + " first (decode)", {first / samples.size()}, 0, 1);
    emit("epoch", what + " cached", {second / samples.size()}, 0, 1);
  }
  peak_memory();
  return 0;
}
