// PRIVATE (includes torch): the U-Net decoder's "upsample, then concatenate with the
// skip" as one pass over memory, forward and backward.
//
// The decoder computes torch::cat({interpolate(x, skip's size, bilinear,
// align_corners=false), skip}, 1): the upsampled tensor is written, read back and written
// again into the concatenation. Profiled in the frozen bf16 forward at 512 px (batch 8,
// 2 cores, `bench_model infer --profile`), upsampling and concatenation took 27% of the
// time (14% + 13.5%); in a bf16 training step at 256 px the fp32 round trips of the
// upsampling (PyTorch 1.13's bf16 upsampling backward is a slow scalar kernel) and the
// concatenation took ~14%. upsample_cat() writes each output element once; its
// backward reads the output gradient once for both inputs' gradients.
#pragma once

#include <torch/torch.h>

namespace wms::nn {

/// x: N x Cx x H x W; skip: N x Cs x OH x OW; float32 or bfloat16, CPU (x is cast to
/// the skip's type if they differ). Returns N x (Cx + Cs) x OH x OW, channels-last,
/// equal to
///   torch::cat({interpolate(x, {OH, OW}, bilinear, align_corners=false), skip}, 1)
/// (PyTorch's source-index rule: src = max(0, (dst + 0.5) * in / out - 0.5), the upper
/// neighbour clamped to the edge). Arithmetic in float32 with one rounding to the
/// output type, forward and backward (bf16: within one bf16 rounding of the fp32
/// answer). With grad mode on and an input that requires grad it is differentiable
/// (a torch::autograd::Function; gradients channels-last, of the inputs' types). Other
/// types or devices fall back to interpolate + cat. Thread safety: pure; runs on
/// ATen's intra-op threads (at::parallel_for).
torch::Tensor upsample_cat(const torch::Tensor& x, const torch::Tensor& skip);

}  // namespace wms::nn
