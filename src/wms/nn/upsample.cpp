#include "wms/nn/upsample.hpp"

#include "wms/nn/bf16.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace wms::nn {
namespace {

// One source coordinate per destination index, as PyTorch's linear upsampling
// (aten/src/ATen/native/UpSample.h: area_pixel_compute_source_index and
// compute_indices_weights_linear, align_corners false, no scale factor given).
struct Tap {
  int64_t i0, i1;  // the two source indices (i1 == i0 at the far edge)
  float l0, l1;    // their weights
};

std::vector<Tap> taps(int64_t in, int64_t out) {
  std::vector<Tap> t(static_cast<std::size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    float src = std::max(scale * (static_cast<float>(d) + 0.5f) - 0.5f, 0.0f);
    auto i0 = static_cast<int64_t>(src);
    float l1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
    t[d] = {i0, i0 + (i0 < in - 1 ? 1 : 0), 1.0f - l1, l1};
  }
  return t;
}

using bits::load;
using bits::store;

// One output row: for each pixel, its upsampled channels from the four neighbours (the
// same expression and order as PyTorch's kernel, in float), then the skip's channels.
template <typename T>
inline __attribute__((always_inline)) void row(T* __restrict out, const T* __restrict row0, const T* __restrict row1,
                                               const T* __restrict skip, const Tap* cols, int64_t width, int64_t cx,
                                               int64_t cs, float h0, float h1) {
  const int64_t c = cx + cs;
  for (int64_t xo = 0; xo < width; ++xo) {
    const Tap& t = cols[xo];
    const T *a = row0 + t.i0 * cx, *b = row0 + t.i1 * cx, *p = row1 + t.i0 * cx, *d = row1 + t.i1 * cx;
    T* o = out + xo * c;
    const float w0 = t.l0, w1 = t.l1;
    for (int64_t k = 0; k < cx; ++k)
      store(o + k, h0 * (w0 * load(a + k) + w1 * load(b + k)) + h1 * (w0 * load(p + k) + w1 * load(d + k)));
    const T* s = skip + xo * cs;
    for (int64_t k = 0; k < cs; ++k) o[cx + k] = s[k];
  }
}

// Built for the widest vector unit the CPU has (GCC's function multi-versioning).
__attribute__((target_clones("avx512f", "avx2", "default"))) void row_bf16(
    c10::BFloat16* out, const c10::BFloat16* row0, const c10::BFloat16* row1, const c10::BFloat16* skip,
    const Tap* cols, int64_t width, int64_t cx, int64_t cs, float h0, float h1) {
  row(out, row0, row1, skip, cols, width, cx, cs, h0, h1);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void row_f32(float* out, const float* row0,
                                                                          const float* row1, const float* skip,
                                                                          const Tap* cols, int64_t width, int64_t cx,
                                                                          int64_t cs, float h0, float h1) {
  row(out, row0, row1, skip, cols, width, cx, cs, h0, h1);
}

// The adjoint of the taps: for each source index, the destination indices that read it
// and with what weight (zero weights dropped).
struct Use {
  int64_t j;
  float w;
};

std::vector<std::vector<Use>> uses(const std::vector<Tap>& taps, int64_t in) {
  std::vector<std::vector<Use>> u(static_cast<std::size_t>(in));
  for (int64_t j = 0; j < static_cast<int64_t>(taps.size()); ++j) {
    if (taps[j].l0 != 0) u[taps[j].i0].push_back({j, taps[j].l0});
    if (taps[j].l1 != 0) u[taps[j].i1].push_back({j, taps[j].l1});
  }
  return u;
}

// One source row of the gradient of the upsampled part: each pixel gathers the output
// gradients that its value was spread to, in float.
template <typename T>
inline __attribute__((always_inline)) void grad_row(T* __restrict out, float* __restrict acc, const T* grad,
                                                    const std::vector<Use>& ys, const std::vector<Use>* xs,
                                                    int64_t width, int64_t ow, int64_t c, int64_t cx) {
  for (int64_t ix = 0; ix < width; ++ix) {
    for (int64_t k = 0; k < cx; ++k) acc[k] = 0;
    for (const Use& uy : ys)
      for (const Use& ux : xs[ix]) {
        const float w = uy.w * ux.w;
        const T* __restrict g = grad + (uy.j * ow + ux.j) * c;
        for (int64_t k = 0; k < cx; ++k) acc[k] += w * load(g + k);
      }
    for (int64_t k = 0; k < cx; ++k) store(out + ix * cx + k, acc[k]);
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void grad_row_bf16(
    c10::BFloat16* out, float* acc, const c10::BFloat16* grad, const std::vector<Use>& ys, const std::vector<Use>* xs,
    int64_t width, int64_t ow, int64_t c, int64_t cx) {
  grad_row(out, acc, grad, ys, xs, width, ow, c, cx);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void grad_row_f32(
    float* out, float* acc, const float* grad, const std::vector<Use>& ys, const std::vector<Use>* xs, int64_t width,
    int64_t ow, int64_t c, int64_t cx) {
  grad_row(out, acc, grad, ys, xs, width, ow, c, cx);
}

// grad: N x (Cx + Cs) x OH x OW channels-last -> the gradients of x (N x Cx x H x W) and
// of skip (N x Cs x OH x OW), both channels-last.
template <typename T>
void run_backward(const torch::Tensor& grad, int64_t h, int64_t w, int64_t cx, torch::Tensor& gx,
                  torch::Tensor& gskip) {
  const int64_t n = grad.size(0), c = grad.size(1), oh = grad.size(2), ow = grad.size(3), cs = c - cx;
  const auto ys = uses(taps(h, oh), h), xs = uses(taps(w, ow), w);
  const T* g = grad.data_ptr<T>();
  T* ox = gx.data_ptr<T>();
  T* os = gskip.data_ptr<T>();
  at::parallel_for(0, n * h, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> acc(static_cast<std::size_t>(cx));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / h, y = r % h;
      if constexpr (std::is_same_v<T, float>)
        grad_row_f32(ox + r * w * cx, acc.data(), g + b * oh * ow * c, ys[y], xs.data(), w, ow, c, cx);
      else
        grad_row_bf16(ox + r * w * cx, acc.data(), g + b * oh * ow * c, ys[y], xs.data(), w, ow, c, cx);
    }
  });
  at::parallel_for(0, n * oh * ow, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p)
      std::memcpy(os + p * cs, g + p * c + cx, static_cast<std::size_t>(cs) * sizeof(T));
  });
}

// Forward and backward of the fused step for autograd (training under bf16 autocast:
// no fp32 round trips, and PyTorch 1.13's slow bf16 upsampling backward avoided).
struct UpsampleCat : torch::autograd::Function<UpsampleCat> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& skip);
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads);
};

template <typename T>
void run(const torch::Tensor& x, const torch::Tensor& skip, torch::Tensor& out) {
  const int64_t n = x.size(0), cx = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t cs = skip.size(1), oh = skip.size(2), ow = skip.size(3), c = cx + cs;
  const auto rows = taps(h, oh), cols = taps(w, ow);
  const T* in = x.data_ptr<T>();
  const T* sk = skip.data_ptr<T>();
  T* o = out.data_ptr<T>();
  // One task per output row (n, y): each writes its own row, reads two input rows.
  at::parallel_for(0, n * oh, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / oh, y = r % oh;
      const Tap& ty = rows[y];
      const T* row0 = in + (b * h + ty.i0) * w * cx;
      const T* row1 = in + (b * h + ty.i1) * w * cx;
      if constexpr (std::is_same_v<T, float>)
        row_f32(o + r * ow * c, row0, row1, sk + r * ow * cs, cols.data(), ow, cx, cs, ty.l0, ty.l1);
      else
        row_bf16(o + r * ow * c, row0, row1, sk + r * ow * cs, cols.data(), ow, cx, cs, ty.l0, ty.l1);
    }
  });
}

torch::Tensor fused_forward(const torch::Tensor& x, const torch::Tensor& skip) {
  auto xs = x.contiguous(torch::MemoryFormat::ChannelsLast);
  auto ss = skip.contiguous(torch::MemoryFormat::ChannelsLast);
  auto out = torch::empty({x.size(0), x.size(1) + skip.size(1), skip.size(2), skip.size(3)},
                          x.options().memory_format(torch::MemoryFormat::ChannelsLast));
  if (x.scalar_type() == torch::kBFloat16)
    run<c10::BFloat16>(xs, ss, out);
  else
    run<float>(xs, ss, out);
  return out;
}

torch::Tensor UpsampleCat::forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                   const torch::Tensor& skip) {
  ctx->saved_data["h"] = x.size(2);
  ctx->saved_data["w"] = x.size(3);
  ctx->saved_data["cx"] = x.size(1);
  return fused_forward(x, skip);
}

torch::autograd::tensor_list UpsampleCat::backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::tensor_list grads) {
  const int64_t h = ctx->saved_data["h"].toInt(), w = ctx->saved_data["w"].toInt();
  const int64_t cx = ctx->saved_data["cx"].toInt();
  if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor()};  // the output was not used
  auto g = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
  const auto cl = g.options().memory_format(torch::MemoryFormat::ChannelsLast);
  auto gx = torch::empty({g.size(0), cx, h, w}, cl);
  auto gskip = torch::empty({g.size(0), g.size(1) - cx, g.size(2), g.size(3)}, cl);
  if (g.scalar_type() == torch::kBFloat16)
    run_backward<c10::BFloat16>(g, h, w, cx, gx, gskip);
  else
    run_backward<float>(g, h, w, cx, gx, gskip);
  return {gx, gskip};
}

}  // namespace

torch::Tensor upsample_cat(const torch::Tensor& x, const torch::Tensor& skip) {
  const auto type = skip.scalar_type();
  const bool fused = x.device().is_cpu() && skip.device().is_cpu() && x.dim() == 4 && skip.dim() == 4 &&
                     (type == torch::kFloat32 || type == torch::kBFloat16) && x.size(0) == skip.size(0);
  if (!fused) {
    namespace F = torch::nn::functional;
    auto up = F::interpolate(x, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{skip.size(2), skip.size(3)})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
    return torch::cat({up, skip}, 1);
  }
  // Should the two types differ, the result has the skip's (as the module's decoder
  // always did under autocast).
  const auto xt = x.scalar_type() == type ? x : x.to(type);
  if (torch::GradMode::is_enabled() && (xt.requires_grad() || skip.requires_grad()))
    return UpsampleCat::apply(xt, skip);
  return fused_forward(xt, skip);
}

}  // namespace wms::nn
