// PRIVATE: a frozen convolution run by oneDNN directly, its bias and ReLU in the same
// primitive (a post-op), for FoldedUNet's inference on the CPU.
//
// Why: through ATen (torch::conv2d(...).relu_()), the frozen bf16 forward at 512 px
// spent 17% of its time in the separate ReLU pass (`bench_model infer --profile`,
// 2 cores: aten::clamp_min_ 36 ms of 212 ms), and ATen 1.13 reorders each weight into
// oneDNN's blocked layout again on every call. Here the weights are reordered once per
// oneDNN weight layout and the ReLU is applied to the accumulator before the output
// is written (bf16: relu(round(x)) == round(relu(x)), so the same numbers as ATen's two
// ops over the same kernel). oneDNN is the library ATen itself calls (Debian's libdnnl2,
// the same shared object torch links), on ATen's OpenMP threads.
//
// No torch here: this file compiles in seconds, without the precompiled header.
#pragma once

#include <cstddef>
#include <memory>

namespace wms::nn {

/// A 2-D convolution with stride 1, 'same' zero padding ((k - 1) / 2 each side), no
/// groups or dilation, a bias, and optionally ReLU on the result.
/// Activations are NHWC (PyTorch's channels-last): element (n, c, y, x) at
/// ((n * H + y) * W + x) * C + c.
/// Thread safety: forward() may run on several threads at once; each call runs on the
/// calling thread's OpenMP team (omp_get_max_threads(), which at::set_num_threads sets).
class OnednnConv {
 public:
  enum class Type { f32, bf16 };

  /// weight: out x in x k x k, dense in that order (OIHW, PyTorch's Conv2d.weight), of
  /// `type`; bias: `out` values of `type`. Both are copied. Throws InvalidInput when
  /// oneDNN has no convolution of this type on this CPU (see supported()).
  OnednnConv(Type type, int out, int in, int k, const void* weight, const void* bias, bool relu);
  ~OnednnConv();
  OnednnConv(const OnednnConv&) = delete;
  OnednnConv& operator=(const OnednnConv&) = delete;

  /// src: n x in x h x w NHWC of the type; dst: n x out x h x w NHWC, written. The
  /// primitive for each (n, h, w) is made on first use and kept (up to 32 shapes).
  /// Throws Internal for a shape oneDNN refuses (none known: every shape it was tried on).
  void forward(int n, int h, int w, const void* src, void* dst) const;

  int out_channels() const;

  /// Whether oneDNN has a convolution of `type` on this CPU (bf16 needs AVX-512; a
  /// CPU with AVX2 only has none, and FoldedUNet then stays with ATen). Cached.
  static bool supported(Type type);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wms::nn
