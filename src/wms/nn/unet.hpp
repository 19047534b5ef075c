// PRIVATE (includes torch): the U-Net of the original WaterMetersUNet, exactly.
// Only nn/ and train/ .cpp files include this header.
//
// enc1..enc4 and the bottleneck are [3x3 conv (pad 1) + BatchNorm + ReLU] x 2, children
// "0".."5" as in the original nn.Sequential, each followed by 2x2 max-pooling; the decoder
// upsamples bilinearly (align_corners false) to the skip's size, concatenates
// (upsampled, skip) and applies two conv blocks; `final` is a 1x1 conv to one logit.
// Parameter names and their order equal the original's state_dict keys
// (enc1.0.weight, enc1.1.running_mean, ..., final.bias). 1,965,569 parameters at base 16.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace wms::nn {

class OnednnConv;

struct UNetImpl : torch::nn::Module {
  UNetImpl(int in_channels, int base, int out_channels);
  /// x: N x in_channels x H x W -> logits N x out_channels x H x W.
  torch::Tensor forward(torch::Tensor x);

  torch::nn::Sequential enc1{nullptr}, enc2{nullptr}, enc3{nullptr}, enc4{nullptr}, bottleneck{nullptr};
  torch::nn::Sequential dec4{nullptr}, dec3{nullptr}, dec2{nullptr}, dec1{nullptr};
  torch::nn::Conv2d final{nullptr};
};
TORCH_MODULE(UNet);

/// The network frozen for inference (the standard conv-BN folding, as
/// torch.fx's fuse_conv_bn_eval): each BatchNorm's running statistics are folded into
/// the convolution before it, w' = w * g / sqrt(var + eps), b' = (b - mean) * g /
/// sqrt(var + eps) + beta, the weights cast once to `dtype` and kept channels-last, and
/// activations stay in `dtype` from the input to the logits (bf16: no BatchNorm passes
/// and no fp32 round trips between layers; measured 4x faster than bf16 autocast for a
/// forward at 512 on a CPU with AMX). Same architecture and answers as
/// UNetImpl::forward in eval mode (fp32: within ~1e-7 of it; bf16: ~1e-3 in logits,
/// as autocast). A snapshot: later changes to `net` are not seen.
/// On the CPU each convolution, its bias and its ReLU run as one oneDNN primitive
/// (OnednnConv, nn/onednn_conv.hpp: the weights reordered once, no separate ReLU pass;
/// bit-identical to ATen's conv2d + relu_ over the same oneDNN kernels), when oneDNN has
/// convolutions of `dtype` on this CPU; otherwise, on another device, or with
/// Kernels::aten, through ATen.
/// Thread safety: forward() is const and may run on several threads (oneDNN).
class FoldedUNet {
 public:
  enum class Kernels { best, aten };
  FoldedUNet(const UNetImpl& net, torch::ScalarType dtype, torch::Device device, Kernels kernels = Kernels::best);
  ~FoldedUNet();
  /// x: N x in_channels x H x W (any float type and layout) -> logits N x out x H x W,
  /// float32. Call under torch::InferenceMode or NoGradGuard.
  torch::Tensor forward(const torch::Tensor& x) const;

 private:
  struct Conv {
    torch::Tensor weight, bias;
    std::shared_ptr<const OnednnConv> onednn;  ///< null: ATen
  };
  torch::Tensor conv(const torch::Tensor& x, const Conv& c, bool relu) const;
  torch::ScalarType dtype_;
  std::vector<std::vector<Conv>> blocks_;  ///< enc1..enc4, bottleneck, dec4..dec1
  Conv final_;
};

/// Parameters and buffers in PyTorch's state_dict order (module by module, parameters
/// before buffers), named as the original's keys.
std::vector<std::pair<std::string, torch::Tensor>> state_tensors(UNetImpl& net);

/// Copies tensors into the network. Every key must exist with the same shape and
/// every network tensor must be given; otherwise throws InvalidInput naming `source`
/// and the first offending key.
void load_state(UNetImpl& net, const std::vector<std::pair<std::string, torch::Tensor>>& state,
                const std::string& source);

}  // namespace wms::nn
