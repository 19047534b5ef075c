// PRIVATE (includes torch): the U-Net's BatchNorm followed by ReLU as one step, in
// channels-last memory, forward and backward.
//
// Profiled in a bf16 training step at 256 px, batch 8 (2 cores, `bench_model step
// --profile`): BatchNorm took 17% (forward 7%, backward 10%) and ReLU ~5%, all of it
// passes over memory. ATen reads the convolution's output twice for the statistics and
// once to normalise, writes it, reads and writes it again for the ReLU; its backward
// reads and writes the gradient once for the ReLU and three more times for BatchNorm.
// Here the statistics take one read, normalise + ReLU one read and one write; the
// backward recomputes the ReLU's mask from the input (one read of the input and of the
// gradient for the two sums, one more of each and one write for the input gradient).
#pragma once

#include <torch/torch.h>

namespace wms::nn {

/// relu(batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps)),
/// as torch::batch_norm computes it: training normalises with the batch's mean and
/// biased variance and moves the running ones by `momentum` (the unbiased variance, as
/// PyTorch does); otherwise it uses the running statistics. x: N x C x H x W, float32 or
/// bfloat16, CPU; weight, bias, running_mean, running_var: C, float32. Returns x's type,
/// channels-last. Sums in float per block of 1024 positions (shifted by the first
/// position, against cancellation), blocks added in double in a fixed order: the same
/// result whatever the thread count. With grad mode on it is differentiable in x, weight
/// and bias (a torch::autograd::Function; the gradients are those of ATen's formula,
/// in float, rounded once). Other types, devices or shapes fall back to ATen's two ops.
/// Thread safety: updates the running statistics in place (as the module does); runs
/// on ATen's intra-op threads.
torch::Tensor batch_norm_relu(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                              const torch::Tensor& running_mean, const torch::Tensor& running_var, bool training,
                              double momentum, double eps);

}  // namespace wms::nn
