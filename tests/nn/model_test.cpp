// The model layer with torch in view: architecture, bundle, state_dict files.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <thread>

#include "testing.hpp"
#include "wms/nn/batchnorm.hpp"
#include "wms/nn/model_impl.hpp"
#include "wms/nn/onednn_conv.hpp"
#include "wms/nn/pth.hpp"
#include "wms/nn/upsample.hpp"

#include <caffe2/serialize/inline_container.h>
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::nn {
namespace {

using wms::testing::TempDir;

ModelConfig small_config(int size = 32) {
  ModelConfig c;
  c.input_size = size;
  return c;
}

torch::Tensor forward(const Model& m, const torch::Tensor& x) {
  torch::NoGradGuard g;
  m.impl().net->eval();
  return m.impl().net->forward(x);
}

TEST(UNet, HasTheOriginalParameterCount) {
  Model m(ModelConfig{}, 0);
  EXPECT_EQ(m.parameter_count(), 1'965'569);
}

TEST(UNet, StateDictKeysMatchTheOriginalInOrder) {
  Model m(ModelConfig{}, 0);
  auto state = state_tensors(*m.impl().net);
  ASSERT_EQ(state.size(), 128u);  // len(WaterMetersUNet().state_dict()) in PyTorch 1.13
  EXPECT_EQ(state[0].first, "enc1.0.weight");
  EXPECT_EQ(state[2].first, "enc1.1.weight");
  EXPECT_EQ(state[4].first, "enc1.1.running_mean");
  EXPECT_EQ(state[6].first, "enc1.1.num_batches_tracked");
  EXPECT_EQ(state[7].first, "enc1.3.weight");
  EXPECT_EQ(state[126].first, "final.weight");
  EXPECT_EQ(state[127].first, "final.bias");
}

TEST(UNet, ForwardKeepsTheSpatialSize) {
  Model m(small_config(), 1);
  EXPECT_EQ(forward(m, torch::rand({2, 3, 64, 64})).sizes(), (std::vector<int64_t>{2, 1, 64, 64}));
  EXPECT_EQ(forward(m, torch::rand({1, 3, 48, 80})).sizes(), (std::vector<int64_t>{1, 1, 48, 80}));
  // Sizes not divisible by 16 still work: the decoder upsamples to each skip's size.
  EXPECT_EQ(forward(m, torch::rand({1, 3, 50, 37})).sizes(), (std::vector<int64_t>{1, 1, 50, 37}));
}

TEST(UNet, SameSeedSameWeights) {
  Model a(small_config(), 7), b(small_config(), 7), c(small_config(), 8);
  auto x = torch::rand({1, 3, 32, 32});
  EXPECT_TRUE(torch::equal(forward(a, x), forward(b, x)));
  EXPECT_FALSE(torch::equal(forward(a, x), forward(c, x)));
}

// The frozen network answers as the module does in eval mode: BatchNorm statistics
// that are not the identity are folded in exactly (fp32), and bf16 stays close.
TEST(UNet, FoldedBatchNormAnswersAsTheModule) {
  Model m(small_config(), 3);
  {
    torch::NoGradGuard g;
    torch::manual_seed(4);
    for (auto& [name, t] : state_tensors(*m.impl().net)) {
      if (name.ends_with("running_mean")) t.uniform_(-0.3, 0.3);
      if (name.ends_with("running_var")) t.uniform_(0.5, 2.0);
    }
  }
  auto x = torch::rand({2, 3, 48, 40});
  auto want = forward(m, x);
  torch::NoGradGuard g;
  FoldedUNet fp32(*m.impl().net, torch::kFloat32, torch::kCPU);
  EXPECT_LE((fp32.forward(x) - want).abs().max().item<float>(), 1e-4);
  FoldedUNet bf16(*m.impl().net, torch::kBFloat16, torch::kCPU);
  auto got = bf16.forward(x);
  EXPECT_EQ(got.scalar_type(), torch::kFloat32);
  EXPECT_LE((got - want).abs().max().item<float>(), 0.1 * want.abs().max().item<float>() + 0.05);
  // A snapshot: the module changing afterwards does not change the frozen network.
  auto before = fp32.forward(x);
  m.impl().net->final->bias.add_(1.0);
  EXPECT_TRUE(torch::equal(fp32.forward(x), before));
}

// oneDNN's convolution with the bias and ReLU as post-ops gives ATen's conv2d + relu_
// (bit for bit in bf16: the same kernels; fp32 to rounding), for odd channel counts,
// non-square sizes, k = 1 and 3, with several shapes on several threads at once (the
// primitive cache under its lock, a scratchpad per call).
TEST(OnednnConv, EqualsAtenConvolutionThenRelu) {
  torch::NoGradGuard g;
  torch::manual_seed(11);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto type = dtype == torch::kBFloat16 ? OnednnConv::Type::bf16 : OnednnConv::Type::f32;
    if (!OnednnConv::supported(type)) {
      std::printf("skipped: oneDNN has no %s convolution on this CPU\n", c10::toString(dtype));
      continue;
    }
    struct Case {
      int64_t cin, cout, k;
      bool relu;
    };
    for (Case c : {Case{3, 8, 3, true}, Case{13, 5, 3, false}, Case{16, 1, 1, false}, Case{32, 16, 3, true}}) {
      auto w = torch::randn({c.cout, c.cin, c.k, c.k}).to(dtype);
      auto b = torch::randn({c.cout}).to(dtype);
      OnednnConv conv(type, c.cout, c.cin, c.k, w.data_ptr(), b.data_ptr(), c.relu);
      EXPECT_EQ(conv.out_channels(), c.cout);
      const std::vector<std::array<int64_t, 3>> shapes = {{1, 9, 7}, {3, 16, 16}, {2, 5, 12}};
      std::vector<torch::Tensor> got(shapes.size()), want(shapes.size());
      std::vector<std::thread> threads;
      for (std::size_t i = 0; i < shapes.size(); ++i) {
        auto [n, h, wd] = shapes[i];
        auto x = torch::randn({n, c.cin, h, wd}).to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
        auto y = torch::conv2d(x, w.contiguous(torch::MemoryFormat::ChannelsLast), b, 1, (c.k - 1) / 2);
        want[i] = c.relu ? y.relu_() : y;
        got[i] = torch::empty({n, c.cout, h, wd}, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
        threads.emplace_back([&, i, x, n = n, h = h, wd = wd] {
          for (int r = 0; r < 3; ++r) conv.forward(n, h, wd, x.data_ptr(), got[i].data_ptr());
        });
      }
      for (auto& t : threads) t.join();
      for (std::size_t i = 0; i < shapes.size(); ++i) {
        SCOPED_TRACE(fmt::format("{} cin {} cout {} k {} shape {}", c10::toString(dtype), c.cin, c.cout, c.k, i));
        auto diff = (got[i].to(torch::kFloat32) - want[i].to(torch::kFloat32)).abs().max().item<float>();
        EXPECT_LE(diff, dtype == torch::kBFloat16 ? 0.02f * want[i].abs().max().item<float>() : 1e-4f);
        if (c.relu) EXPECT_GE(got[i].min().item<float>(), 0.0f);
      }
    }
  }
}

// FoldedUNet answers the same with oneDNN's fused convolutions as through ATen.
TEST(UNet, FoldedOnednnAnswersAsAten) {
  Model m(small_config(), 5);
  torch::NoGradGuard g;
  auto x = torch::rand({2, 3, 40, 56});
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    FoldedUNet best(*m.impl().net, dtype, torch::kCPU);
    FoldedUNet aten(*m.impl().net, dtype, torch::kCPU, FoldedUNet::Kernels::aten);
    auto want = aten.forward(x);
    EXPECT_LE((best.forward(x) - want).abs().max().item<float>(), 1e-3f * (1 + want.abs().max().item<float>()))
        << c10::toString(dtype);
  }
}

// The fused decoder step equals interpolate + cat: the U-Net's exact doubling, odd
// sizes (a 2x skip of an odd side and a non-integer ratio), one-pixel inputs, either
// layout in; bf16 within one bf16 rounding of the fp32 answer.
TEST(Upsample, CatEqualsInterpolateThenConcatenate) {
  namespace F = torch::nn::functional;
  torch::NoGradGuard g;
  torch::manual_seed(7);
  auto reference = [](const torch::Tensor& x, const torch::Tensor& skip) {
    auto up = F::interpolate(x, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{skip.size(2), skip.size(3)})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
    return torch::cat({up, skip}, 1);
  };
  struct Case {
    int64_t n, cx, h, w, cs, oh, ow;
  };
  for (Case c : {Case{2, 32, 8, 6, 16, 16, 12}, Case{1, 17, 5, 7, 3, 10, 14}, Case{1, 8, 5, 7, 4, 11, 9},
                 Case{1, 4, 1, 1, 2, 2, 2}, Case{3, 256, 4, 4, 128, 8, 8}}) {
    SCOPED_TRACE(fmt::format("{}x{}x{}x{} up to {}x{} beside {} channels", c.n, c.cx, c.h, c.w, c.oh, c.ow, c.cs));
    auto x = torch::randn({c.n, c.cx, c.h, c.w});
    auto skip = torch::randn({c.n, c.cs, c.oh, c.ow});
    auto want = reference(x, skip);
    auto got = upsample_cat(x.contiguous(torch::MemoryFormat::ChannelsLast), skip);
    EXPECT_TRUE(got.is_contiguous(torch::MemoryFormat::ChannelsLast));
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LE((got - want).abs().max().item<float>(), 1e-5);
    EXPECT_TRUE(torch::equal(got.narrow(1, c.cx, c.cs), skip));  // copied, not computed
    auto xb = x.to(torch::kBFloat16), sb = skip.to(torch::kBFloat16);
    auto exact = reference(xb.to(torch::kFloat32), sb.to(torch::kFloat32));
    auto bf = upsample_cat(xb.contiguous(torch::MemoryFormat::ChannelsLast),
                           sb.contiguous(torch::MemoryFormat::ChannelsLast));
    EXPECT_EQ(bf.scalar_type(), torch::kBFloat16);
    // One rounding to bf16 (8 significant bits): at most half a unit in the last place.
    auto err = (bf.to(torch::kFloat32) - exact).abs();
    EXPECT_TRUE((err <= exact.abs() * (1.0 / 256) + 1e-30).all().item<bool>());
  }
}

// Its backward gives the gradients autograd computes through interpolate + cat (fp32:
// to 1e-5; bf16: within 1% of the largest, the output gradient rounded once).
TEST(Upsample, CatGradientsEqualThoseOfInterpolateThenConcatenate) {
  namespace F = torch::nn::functional;
  torch::manual_seed(8);
  struct Case {
    int64_t n, cx, h, w, cs, oh, ow;
  };
  for (Case c : {Case{2, 32, 8, 6, 16, 16, 12}, Case{1, 17, 5, 7, 3, 10, 14}, Case{1, 8, 5, 7, 4, 11, 9},
                 Case{1, 4, 1, 1, 2, 2, 2}}) {
    SCOPED_TRACE(fmt::format("{}x{}x{}x{} up to {}x{} beside {} channels", c.n, c.cx, c.h, c.w, c.oh, c.ow, c.cs));
    for (auto type : {torch::kFloat32, torch::kBFloat16}) {
      auto x0 = torch::randn({c.n, c.cx, c.h, c.w}).to(type), s0 = torch::randn({c.n, c.cs, c.oh, c.ow}).to(type);
      auto g = torch::randn({c.n, c.cx + c.cs, c.oh, c.ow}).to(type);
      auto x = x0.clone().requires_grad_(), s = s0.clone().requires_grad_();
      upsample_cat(x, s).backward(g);
      // The reference in fp32 on the same (rounded) values.
      auto xr = x0.to(torch::kFloat32).requires_grad_(), sr = s0.to(torch::kFloat32).requires_grad_();
      auto up = F::interpolate(xr, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{c.oh, c.ow})
                                       .mode(torch::kBilinear)
                                       .align_corners(false));
      torch::cat({up, sr}, 1).backward(g.to(torch::kFloat32));
      ASSERT_EQ(x.grad().scalar_type(), type);
      const double tol = type == torch::kFloat32 ? 1e-5 : 0.01 * xr.grad().abs().max().item<double>();
      EXPECT_LE((x.grad().to(torch::kFloat32) - xr.grad()).abs().max().item<double>(), tol);
      EXPECT_TRUE(torch::equal(s.grad().to(torch::kFloat32), sr.grad()));  // passed through
    }
  }
}

// BatchNorm + ReLU as one step gives ATen's numbers: the output, the running
// statistics it moves, and the gradients of x, weight and bias (fp32 to 1e-4 of the
// largest; bf16 within 1%, the values rounded once), in training and in eval mode;
// shapes from the U-Net's (16 channels at 256 px) to one position per channel and a
// position count that is not a multiple of the block; a large mean (cancellation).
TEST(BatchNormRelu, EqualsBatchNormThenRelu) {
  torch::manual_seed(9);
  struct Case {
    int64_t n, c, h, w;
    double offset;
  };
  for (Case c : {Case{2, 16, 64, 48, 0}, Case{3, 5, 7, 11, 0}, Case{1, 256, 4, 4, 0}, Case{2, 3, 1, 1, 0},
                 Case{2, 8, 33, 31, 100}}) {
    for (auto type : {torch::kFloat32, torch::kBFloat16}) {
      SCOPED_TRACE(fmt::format("{}x{}x{}x{} +{} {}", c.n, c.c, c.h, c.w, c.offset, c10::toString(type)));
      auto x0 =
          (torch::randn({c.n, c.c, c.h, c.w}) * 2 + c.offset).to(type).contiguous(torch::MemoryFormat::ChannelsLast);
      auto w0 = torch::rand({c.c}) + 0.5, b0 = torch::randn({c.c}) * 0.5;
      auto g = torch::randn({c.n, c.c, c.h, c.w}).to(type).contiguous(torch::MemoryFormat::ChannelsLast);
      // Ours.
      auto x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
      auto rm = torch::randn({c.c}) * 0.1, rv = torch::rand({c.c}) + 1;
      auto y = batch_norm_relu(x, w, b, rm, rv, true, 0.1, 1e-5);
      y.backward(g);
      // ATen's, in fp32 on the same values.
      auto xr = x0.to(torch::kFloat32).requires_grad_(), wr = w0.clone().requires_grad_(),
           br = b0.clone().requires_grad_();
      auto rmr = rm.clone(), rvr = rv.clone();
      {
        torch::NoGradGuard ng;  // undo our move of the running statistics to get the originals back
        rmr.sub_(0.1 * xr.mean({0, 2, 3})).div_(0.9);
        rvr.sub_(0.1 * xr.var({0, 2, 3}, true)).div_(0.9);
      }
      auto rm_before = rmr.clone(), rv_before = rvr.clone();
      auto yr = torch::relu(torch::batch_norm(xr, wr, br, rmr, rvr, true, 0.1, 1e-5, false));
      yr.backward(g.to(torch::kFloat32));
      ASSERT_EQ(y.scalar_type(), type);
      EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
      auto close = [&](const torch::Tensor& got, const torch::Tensor& want, const char* what) {
        const double scale = want.abs().max().item<double>() + 1e-6;
        const double tol = (type == torch::kFloat32 ? 1e-4 : 0.01) * scale;
        EXPECT_LE((got.to(torch::kFloat32) - want).abs().max().item<double>(), tol) << what;
      };
      close(y, yr, "output");
      close(rm, rmr, "running_mean");
      close(rv, rvr, "running_var");
      close(x.grad(), xr.grad(), "grad x");
      close(w.grad(), wr.grad(), "grad weight");
      close(b.grad(), br.grad(), "grad bias");
      // Eval mode: the running statistics, unchanged.
      torch::NoGradGuard ng;
      auto e = batch_norm_relu(x0, w0, b0, rm_before, rv_before, false, 0.1, 1e-5);
      close(
          e,
          torch::relu(torch::batch_norm(x0.to(torch::kFloat32), w0, b0, rm_before, rv_before, false, 0.1, 1e-5, false)),
          "eval output");
    }
  }
}

// The same result whatever the number of threads (the blocks fix the order of the sums).
TEST(BatchNormRelu, ThreadCountDoesNotChangeTheResult) {
  torch::manual_seed(10);
  auto x0 = torch::randn({4, 16, 64, 64}).to(torch::kBFloat16).contiguous(torch::MemoryFormat::ChannelsLast);
  auto g = torch::randn({4, 16, 64, 64}).to(torch::kBFloat16).contiguous(torch::MemoryFormat::ChannelsLast);
  auto run = [&](int threads) {
    int before = at::get_num_threads();
    at::set_num_threads(threads);
    auto x = x0.clone().requires_grad_();
    auto w = torch::ones({16}).requires_grad_(), b = torch::zeros({16}).requires_grad_();
    auto rm = torch::zeros({16}), rv = torch::ones({16});
    auto y = batch_norm_relu(x, w, b, rm, rv, true, 0.1, 1e-5);
    y.backward(g);
    at::set_num_threads(before);
    return std::vector<torch::Tensor>{y, rm, rv, x.grad(), w.grad(), b.grad()};
  };
  auto one = run(1), two = run(2);
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i], two[i])) << i;
}

TEST(Bundle, RoundTripKeepsWeightsAndInfo) {
  TempDir t;
  Model m(small_config(), 3);
  m.info().dataset_version = "abc";
  m.info().metrics["val_dice"] = 0.5;
  {
    torch::NoGradGuard g;  // non-trivial BatchNorm buffers must survive too
    m.impl().net->enc1[1]->as<torch::nn::BatchNorm2d>()->running_mean.uniform_(-1, 1);
  }
  m.save(t / "m.wms");
  Model back = Model::load(t / "m.wms");
  EXPECT_EQ(back.info().dataset_version, "abc");
  EXPECT_EQ(back.info().metrics["val_dice"], 0.5);
  EXPECT_EQ(back.info().config.input_size, 32);
  auto x = torch::rand({1, 3, 32, 32});
  EXPECT_TRUE(torch::equal(forward(m, x), forward(back, x)));
}

TEST(Bundle, RegionRoundTripsAndOlderBundlesKeepTheLargest) {
  ModelInfo info;
  info.config.region = Region::kWindow;
  auto j = info.to_json();
  EXPECT_EQ(ModelInfo::from_json(j, "m").config.region, Region::kWindow);
  EXPECT_EQ(j.at("largest_component"), true) << "what older wms read: the nearest it has";
  j.erase("region");  // a bundle from before model.region
  EXPECT_EQ(ModelInfo::from_json(j, "m").config.region, Region::kLargest);
  j["largest_component"] = false;
  EXPECT_EQ(ModelInfo::from_json(j, "m").config.region, Region::kAll);
  j["region"] = "biggest";
  EXPECT_THROW(ModelInfo::from_json(j, "m"), Corrupt);
}

TEST(Bundle, CorruptTruncatedAndForeignFilesAreRefusedClearly) {
  Model m(small_config(), 3);
  std::string good = m.to_bytes();
  auto message_of = [](const std::string& bytes) -> std::string {
    try {
      Model::from_bytes(bytes, "m.wms");
    } catch (const Corrupt& e) {
      return e.what();
    }
    return "accepted";
  };
  EXPECT_NE(message_of(good.substr(0, good.size() / 2)).find("truncated"), std::string::npos);
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  EXPECT_NE(message_of(flipped).find("checksum"), std::string::npos);
  EXPECT_NE(message_of("hello world, not a model").find("not a wms model bundle"), std::string::npos);
  EXPECT_NE(message_of(write_pth({{"a", torch::zeros({2})}})).find("wms model import"), std::string::npos);
  EXPECT_NE(message_of("").find("m.wms"), std::string::npos);
  std::mt19937 rng(99);
  for (int i = 0; i < 200; ++i) {  // any damage: a named error, never a crash
    std::string b = good;
    b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
    EXPECT_NE(message_of(b), "accepted");
    EXPECT_NE(message_of(good.substr(0, rng() % good.size())), "accepted");
  }
}

TEST(Bundle, MissingFileIsNotFound) {
  EXPECT_THROW(Model::load("/nonexistent/m.wms"), NotFound);
}

TEST(Pth, RoundTripsNamedTensorsOfEveryStoredType) {
  NamedTensors in = {{"w", torch::randn({4, 3, 3, 3})},
                     {"n", torch::tensor({int64_t{12345678901}})},
                     {"d", torch::randn({5}, torch::kFloat64)},
                     {"t", torch::randn({3, 4}).t()}};  // non-contiguous
  NamedTensors out = read_pth(write_pth(in), "x.pth").tensors;
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].first, in[i].first);
    EXPECT_TRUE(torch::equal(out[i].second, in[i].second.contiguous())) << in[i].first;
  }
}

TEST(Pth, DamagedFilesNeverCrash) {
  std::string good = write_pth({{"a", torch::randn({3, 3})}, {"b", torch::tensor({int64_t{7}})}});
  std::mt19937 rng(5);
  int refused = 0;
  for (int i = 0; i < 400; ++i) {
    std::string b = i % 2 ? good.substr(0, rng() % good.size()) : good;
    if (i % 2 == 0)
      for (int k = 0; k < 3; ++k) b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
    try {
      read_pth(b, "x.pth");
    } catch (const InvalidInput&) {  // the user's file: exit 3
      ++refused;
    }
  }
  EXPECT_GT(refused, 200);
}

TEST(Pth, NeverCallsArbitraryGlobals) {
  // A pickle that would call os.system in Python is refused; nothing in it is called.
  std::string good = write_pth({{"a", torch::zeros({1})}});
  using namespace std::string_literals;
  std::string pkl = "\x80\x02"s + "cos\nsystem\n"s + "X\x02\x00\x00\x00id"s + "\x85R."s;
  std::string bad;
  {
    caffe2::serialize::PyTorchStreamWriter zip([&bad](const void* buf, size_t n) {
      bad.append(static_cast<const char*>(buf), n);
      return n;
    });
    zip.writeRecord("data.pkl", pkl.data(), pkl.size());
    zip.writeEndOfFile();
  }
  try {
    read_pth(bad, "evil.pth");
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("os.system"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("never runs pickled code"), std::string::npos) << e.what();
  }
}

TEST(StateDict, ImportRefusesWrongShapesAndKeys) {
  TempDir t;
  Model m(ModelConfig{}, 1);
  m.export_state_dict(t / "m.pth");
  ModelConfig other;
  other.base_filters = 8;
  EXPECT_THROW(Model::import_state_dict(t / "m.pth", other), InvalidInput);  // the user's file: exit 3, not 6
  util::atomic_write(t / "x.pth", write_pth({{"enc1.0.weight", torch::zeros({1})}}));
  EXPECT_THROW(Model::import_state_dict(t / "x.pth", ModelConfig{}), InvalidInput);
  // A bundle given by path is the user's file too; one in the store is wms's own.
  util::atomic_write(t / "damaged.wms", "not a bundle");
  EXPECT_THROW(Model::load(t / "damaged.wms"), InvalidInput);
  EXPECT_THROW(Model::from_bytes("not a bundle", "store object"), Corrupt);
  Model back = Model::import_state_dict(t / "m.pth", ModelConfig{});
  auto x = torch::rand({1, 3, 32, 32});
  EXPECT_TRUE(torch::equal(forward(m, x), forward(back, x)));
}

}  // namespace
}  // namespace wms::nn
