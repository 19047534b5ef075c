#include "wms/nn/batchnorm.hpp"

#include "wms/nn/bf16.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace wms::nn {
namespace {

using bits::load;
using bits::store;

// Positions per partial sum: the blocks, not the threads, fix the order of additions.
constexpr int64_t kBlock = 1024;

// Per channel, over `rows` positions of c channels: the sums of (x - origin) and of its
// square.
template <typename T>
inline __attribute__((always_inline)) void sums(const T* __restrict x, int64_t rows, int64_t c,
                                                const float* __restrict origin, float* __restrict s1,
                                                float* __restrict s2) {
  for (int64_t k = 0; k < c; ++k) s1[k] = s2[k] = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const T* __restrict p = x + r * c;
    for (int64_t k = 0; k < c; ++k) {
      const float d = load(p + k) - origin[k];
      s1[k] += d;
      s2[k] += d * d;
    }
  }
}

// y = max(x * scale + shift, 0).
template <typename T>
inline __attribute__((always_inline)) void normalize(T* __restrict y, const T* __restrict x, int64_t rows, int64_t c,
                                                     const float* __restrict scale, const float* __restrict shift) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < c; ++k) store(y + r * c + k, std::max(load(x + r * c + k) * scale[k] + shift[k], 0.0f));
}

// The gradient through the ReLU (its mask recomputed from x, as the forward decided it),
// summed per channel: sg = sum(g), sgx = sum(g * (x - mean)).
template <typename T>
inline __attribute__((always_inline)) void grad_sums(const T* __restrict gy, const T* __restrict x, int64_t rows,
                                                     int64_t c, const float* __restrict scale,
                                                     const float* __restrict shift, const float* __restrict mean,
                                                     float* __restrict sg, float* __restrict sgx) {
  for (int64_t k = 0; k < c; ++k) sg[k] = sgx[k] = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < c; ++k) {
      const float xv = load(x + r * c + k), gv = load(gy + r * c + k);  // both loaded: a select, not a branch
      const float g = xv * scale[k] + shift[k] > 0.0f ? gv : 0.0f;
      sg[k] += g;
      sgx[k] += g * (xv - mean[k]);
    }
}

// dx = a * (g - mg - (x - mean) * q), ATen's training formula with a = invstd * weight,
// mg = sum(g) / M, q = invstd^2 * sum(g * (x - mean)) / M.
template <typename T>
inline __attribute__((always_inline)) void grad_input(T* __restrict dx, const T* __restrict gy, const T* __restrict x,
                                                      int64_t rows, int64_t c, const float* __restrict scale,
                                                      const float* __restrict shift, const float* __restrict mean,
                                                      const float* __restrict a, const float* __restrict mg,
                                                      const float* __restrict q) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < c; ++k) {
      const float xv = load(x + r * c + k), gv = load(gy + r * c + k);  // both loaded: a select, not a branch
      const float g = xv * scale[k] + shift[k] > 0.0f ? gv : 0.0f;
      store(dx + r * c + k, a[k] * (g - mg[k] - (xv - mean[k]) * q[k]));
    }
}

// Built for the widest vector unit the CPU has (GCC's function multi-versioning), one
// entry per kernel for both types.
using Bf = c10::BFloat16;

__attribute__((target_clones("avx512f", "avx2", "default"))) void sums_any(bool bf, const void* x, int64_t rows,
                                                                           int64_t c, const float* origin, float* s1,
                                                                           float* s2) {
  if (bf)
    sums(static_cast<const Bf*>(x), rows, c, origin, s1, s2);
  else
    sums(static_cast<const float*>(x), rows, c, origin, s1, s2);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void normalize_any(bool bf, void* y, const void* x,
                                                                                int64_t rows, int64_t c,
                                                                                const float* scale,
                                                                                const float* shift) {
  if (bf)
    normalize(static_cast<Bf*>(y), static_cast<const Bf*>(x), rows, c, scale, shift);
  else
    normalize(static_cast<float*>(y), static_cast<const float*>(x), rows, c, scale, shift);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void grad_sums_any(bool bf, const void* gy, const void* x,
                                                                                int64_t rows, int64_t c,
                                                                                const float* scale, const float* shift,
                                                                                const float* mean, float* sg,
                                                                                float* sgx) {
  if (bf)
    grad_sums(static_cast<const Bf*>(gy), static_cast<const Bf*>(x), rows, c, scale, shift, mean, sg, sgx);
  else
    grad_sums(static_cast<const float*>(gy), static_cast<const float*>(x), rows, c, scale, shift, mean, sg, sgx);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void grad_input_any(bool bf, void* dx, const void* gy,
                                                                                 const void* x, int64_t rows, int64_t c,
                                                                                 const float* scale, const float* shift,
                                                                                 const float* mean, const float* a,
                                                                                 const float* mg, const float* q) {
  if (bf)
    grad_input(static_cast<Bf*>(dx), static_cast<const Bf*>(gy), static_cast<const Bf*>(x), rows, c, scale, shift, mean,
               a, mg, q);
  else
    grad_input(static_cast<float*>(dx), static_cast<const float*>(gy), static_cast<const float*>(x), rows, c, scale,
               shift, mean, a, mg, q);
}

// A channels-last tensor as M positions x C channels.
struct Rows {
  const char* data;
  int64_t m, c;
  std::size_t elem;
  bool bf;
  explicit Rows(const torch::Tensor& t)
      : data(static_cast<const char*>(t.data_ptr())),
        m(t.numel() / t.size(1)),
        c(t.size(1)),
        elem(t.element_size()),
        bf(t.scalar_type() == torch::kBFloat16) {}
  int64_t blocks() const { return (m + kBlock - 1) / kBlock; }
  int64_t rows_of(int64_t b) const { return std::min(kBlock, m - b * kBlock); }
  std::size_t offset(int64_t b) const { return static_cast<std::size_t>(b * kBlock * c) * elem; }
};

// Two per-channel sums of every block, `kernel(block, s1, s2)`, added in double in block
// order.
template <typename Kernel>
std::pair<std::vector<double>, std::vector<double>> block_sums(const Rows& r, Kernel kernel) {
  const int64_t nb = r.blocks(), c = r.c;
  std::vector<float> part(static_cast<std::size_t>(nb * 2 * c));
  at::parallel_for(0, nb, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) kernel(b, part.data() + b * 2 * c, part.data() + b * 2 * c + c);
  });
  std::vector<double> s1(static_cast<std::size_t>(c)), s2(static_cast<std::size_t>(c));
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t k = 0; k < c; ++k) {
      s1[k] += part[b * 2 * c + k];
      s2[k] += part[b * 2 * c + c + k];
    }
  return {s1, s2};
}

torch::Tensor channels(const std::vector<double>& v) {
  auto t = torch::empty({static_cast<int64_t>(v.size())}, torch::kFloat32);
  std::copy(v.begin(), v.end(), t.data_ptr<float>());
  return t;
}

// y = relu(x * scale + shift) for channels-last x.
torch::Tensor normalize_relu(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& shift) {
  auto y = torch::empty_like(x, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
  Rows r(x);
  const float* sc = scale.data_ptr<float>();
  const float* sh = shift.data_ptr<float>();
  char* out = static_cast<char*>(y.data_ptr());
  at::parallel_for(0, r.blocks(), 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      normalize_any(r.bf, out + r.offset(b), r.data + r.offset(b), r.rows_of(b), r.c, sc, sh);
  });
  return y;
}

struct BatchNormReLU : torch::autograd::Function<BatchNormReLU> {
  // x channels-last; mean, invstd: the batch's, float32.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& mean,
                               const torch::Tensor& invstd) {
    auto scale = weight.to(torch::kFloat32) * invstd;
    auto shift = bias.to(torch::kFloat32) - mean * scale;
    ctx->save_for_backward({x, weight, mean, invstd, scale, shift});
    return normalize_relu(x, scale, shift);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3], &scale = saved[4],
               &shift = saved[5];
    if (!grads[0].defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor(), {}, {}};
    auto gy = grads[0].to(x.scalar_type()).contiguous(torch::MemoryFormat::ChannelsLast);
    Rows r(x);
    const char* g = static_cast<const char*>(gy.data_ptr());
    const float *sc = scale.data_ptr<float>(), *sh = shift.data_ptr<float>(), *mu = mean.data_ptr<float>();
    auto [sg, sgx] = block_sums(r, [&](int64_t b, float* s1, float* s2) {
      grad_sums_any(r.bf, g + r.offset(b), r.data + r.offset(b), r.rows_of(b), r.c, sc, sh, mu, s1, s2);
    });
    const auto m = static_cast<double>(r.m);
    const float* is = invstd.data_ptr<float>();
    auto w = weight.to(torch::kFloat32).contiguous();
    const float* wp = w.data_ptr<float>();
    std::vector<double> gw(sg.size()), mg(sg.size()), q(sg.size()), a(sg.size());
    for (std::size_t k = 0; k < sg.size(); ++k) {
      gw[k] = sgx[k] * is[k];
      mg[k] = sg[k] / m;
      q[k] = static_cast<double>(is[k]) * is[k] * sgx[k] / m;
      a[k] = static_cast<double>(is[k]) * wp[k];
    }
    auto at = channels(a), mgt = channels(mg), qt = channels(q);
    auto dx = torch::empty_like(x, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
    char* out = static_cast<char*>(dx.data_ptr());
    at::parallel_for(0, r.blocks(), 1, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b)
        grad_input_any(r.bf, out + r.offset(b), g + r.offset(b), r.data + r.offset(b), r.rows_of(b), r.c, sc, sh, mu,
                       at.data_ptr<float>(), mgt.data_ptr<float>(), qt.data_ptr<float>());
    });
    return {dx, channels(gw).to(weight.scalar_type()), channels(sg).to(weight.scalar_type()), {}, {}};
  }
};

}  // namespace

torch::Tensor batch_norm_relu(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                              const torch::Tensor& running_mean, const torch::Tensor& running_var, bool training,
                              double momentum, double eps) {
  const auto type = x.scalar_type();
  const bool needs_grad =
      torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad() || bias.requires_grad());
  const bool fused = x.device().is_cpu() && x.dim() == 4 && (type == torch::kFloat32 || type == torch::kBFloat16) &&
                     x.is_contiguous(torch::MemoryFormat::ChannelsLast) && weight.defined() && bias.defined() &&
                     running_mean.defined() && running_var.defined() && weight.scalar_type() == torch::kFloat32 &&
                     running_mean.scalar_type() == torch::kFloat32 && x.numel() > 0 &&
                     (training ? x.numel() / x.size(1) > 1 : !needs_grad);
  if (!fused)  // ATen's own checks and errors apply
    return torch::relu(torch::batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, false));
  if (!training) {
    torch::NoGradGuard no_grad;
    auto invstd = torch::rsqrt(running_var + eps);
    auto scale = weight * invstd;
    return normalize_relu(x, scale, bias - running_mean * scale);
  }
  Rows r(x);
  auto first = x.flatten(2).select(2, 0).select(0, 0).to(torch::kFloat32).contiguous();  // position 0, every channel
  const float* origin = first.data_ptr<float>();
  auto [s1, s2] = block_sums(
      r, [&](int64_t b, float* a, float* q) { sums_any(r.bf, r.data + r.offset(b), r.rows_of(b), r.c, origin, a, q); });
  const auto m = static_cast<double>(r.m);
  std::vector<double> mean(s1.size()), var(s1.size()), invstd(s1.size());
  for (std::size_t k = 0; k < s1.size(); ++k) {
    const double d = s1[k] / m;
    mean[k] = origin[k] + d;
    var[k] = std::max(s2[k] / m - d * d, 0.0);
    invstd[k] = 1.0 / std::sqrt(var[k] + eps);
  }
  {
    torch::NoGradGuard no_grad;  // the running statistics move as ATen moves them
    running_mean.mul_(1 - momentum).add_(channels(mean), momentum);
    running_var.mul_(1 - momentum).add_(channels(var), momentum * m / (m - 1));
  }
  auto mt = channels(mean), it = channels(invstd);
  if (needs_grad) return BatchNormReLU::apply(x, weight, bias, mt, it);
  auto scale = weight.detach() * it;
  return normalize_relu(x, scale, bias.detach() - mt * scale);
}

}  // namespace wms::nn
