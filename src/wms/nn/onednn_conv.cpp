#include "wms/nn/onednn_conv.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "wms/util/error.hpp"

namespace wms::nn {
namespace {

using dnnl::memory;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

memory::data_type data_type(OnednnConv::Type type) {
  return type == OnednnConv::Type::bf16 ? memory::data_type::bf16 : memory::data_type::f32;
}

std::size_t element_size(OnednnConv::Type type) { return type == OnednnConv::Type::bf16 ? 2 : 4; }

constexpr std::size_t kMaxShapes = 32;

}  // namespace

struct OnednnConv::Impl {
  Type type;
  int out, in, k;
  bool relu;
  std::vector<std::uint8_t> weight, bias;  // the caller's OIHW weights and bias, copied

  // One primitive per input shape; the weights reordered once per layout oneDNN asks
  // for (usually one for every shape).
  struct Shape {
    int n, h, w;
    dnnl::convolution_forward primitive;
    memory weights;
    memory::desc scratchpad;
  };
  mutable std::mutex mu;
  mutable std::vector<Shape> shapes;
  mutable std::vector<memory> weight_layouts;

  memory::desc activations(int n, int c, int h, int w) const {
    return memory::desc({n, c, h, w}, data_type(type), memory::format_tag::nhwc);
  }

  dnnl::convolution_forward::primitive_desc describe(int n, int h, int w) const {
    const auto dt = data_type(type);
    const memory::dim pad = (k - 1) / 2;
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, activations(n, in, h, w),
        memory::desc({out, in, k, k}, dt, memory::format_tag::any), memory::desc({out}, dt, memory::format_tag::a),
        activations(n, out, h, w), {1, 1}, {pad, pad}, {pad, pad});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    return {desc, attr, cpu_engine()};
  }

  // Under mu.
  const Shape& shape(int n, int h, int w) const {
    for (const auto& s : shapes)
      if (s.n == n && s.h == h && s.w == w) return s;
    dnnl::convolution_forward::primitive_desc pd;
    try {
      pd = describe(n, h, w);
    } catch (const dnnl::error& e) {
      throw Internal("oneDNN has no convolution for {}x{}x{}x{} -> {} channels (k {}): {}", n, in, h, w, out, k,
                     e.what());
    }
    memory weights;
    for (const auto& m : weight_layouts)
      if (m.get_desc() == pd.weights_desc()) weights = m;
    if (!weights) {
      const auto& engine = cpu_engine();
      memory user({{out, in, k, k}, data_type(type), memory::format_tag::oihw}, engine,
                  const_cast<std::uint8_t*>(weight.data()));
      weights = memory(pd.weights_desc(), engine);
      dnnl::stream stream(engine);
      dnnl::reorder(user, weights).execute(stream, user, weights);
      stream.wait();
      weight_layouts.push_back(weights);
    }
    if (shapes.size() == kMaxShapes) shapes.erase(shapes.begin());  // the oldest
    shapes.push_back({n, h, w, dnnl::convolution_forward(pd), weights, pd.scratchpad_desc()});
    return shapes.back();
  }
};

OnednnConv::OnednnConv(Type type, int out, int in, int k, const void* weight, const void* bias, bool relu)
    : impl_(std::make_unique<Impl>()) {
  if (!supported(type))
    throw InvalidInput("oneDNN has no {} convolution on this CPU", type == Type::bf16 ? "bf16" : "f32");
  auto& m = *impl_;
  m.type = type;
  m.out = out;
  m.in = in;
  m.k = k;
  m.relu = relu;
  const std::size_t es = element_size(type);
  m.weight.resize(static_cast<std::size_t>(out) * in * k * k * es);
  std::memcpy(m.weight.data(), weight, m.weight.size());
  m.bias.resize(static_cast<std::size_t>(out) * es);
  std::memcpy(m.bias.data(), bias, m.bias.size());
}

OnednnConv::~OnednnConv() = default;

int OnednnConv::out_channels() const { return impl_->out; }

void OnednnConv::forward(int n, int h, int w, const void* src, void* dst) const {
  const auto& m = *impl_;
  dnnl::convolution_forward primitive;
  memory weights;
  memory::desc scratchpad_desc;
  {
    std::lock_guard lock(m.mu);
    const auto& s = m.shape(n, h, w);
    primitive = s.primitive;  // handles: shared, cheap to copy
    weights = s.weights;
    scratchpad_desc = s.scratchpad;
  }
  const auto& engine = cpu_engine();
  const auto dt = data_type(m.type);
  std::unique_ptr<std::uint8_t[]> scratchpad(new std::uint8_t[std::max<std::size_t>(scratchpad_desc.get_size(), 1)]);
  memory src_m(m.activations(n, m.in, h, w), engine, const_cast<void*>(src));
  memory dst_m(m.activations(n, m.out, h, w), engine, dst);
  memory bias_m({{m.out}, dt, memory::format_tag::a}, engine, const_cast<std::uint8_t*>(m.bias.data()));
  memory scratch_m(scratchpad_desc, engine, scratchpad.get());
  dnnl::stream stream(engine);
  primitive.execute(stream, {{DNNL_ARG_SRC, src_m},
                             {DNNL_ARG_WEIGHTS, weights},
                             {DNNL_ARG_BIAS, bias_m},
                             {DNNL_ARG_DST, dst_m},
                             {DNNL_ARG_SCRATCHPAD, scratch_m}});
  stream.wait();
}

bool OnednnConv::supported(Type type) {
  auto probe = [](Type t) {
    try {
      Impl m;
      m.type = t;
      m.out = m.in = 16;
      m.k = 3;
      m.relu = true;
      m.describe(1, 8, 8);
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  };
  static const bool f32 = probe(Type::f32), bf16 = probe(Type::bf16);
  return type == Type::bf16 ? bf16 : f32;
}

}  // namespace wms::nn
