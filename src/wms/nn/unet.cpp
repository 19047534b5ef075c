#include "wms/nn/unet.hpp"

#include <map>

#include "wms/nn/batchnorm.hpp"
#include "wms/nn/onednn_conv.hpp"
#include "wms/nn/upsample.hpp"
#include "wms/util/error.hpp"

namespace wms::nn {
namespace {

torch::nn::Sequential double_block(int cin, int cout) {
  namespace tnn = torch::nn;
  return tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(cin, cout, 3).padding(1)), tnn::BatchNorm2d(cout),
                         tnn::ReLU(tnn::ReLUOptions(true)), tnn::Conv2d(tnn::Conv2dOptions(cout, cout, 3).padding(1)),
                         tnn::BatchNorm2d(cout), tnn::ReLU(tnn::ReLUOptions(true)));
}

// A double_block's layers, each BatchNorm + ReLU pair as one step (batch_norm_relu: the
// same numbers as the modules', fewer passes over memory; the modules keep the
// parameters, buffers and state_dict names).
torch::Tensor block(torch::nn::Sequential& seq, torch::Tensor h) {
  for (std::size_t i = 0; i + 2 < seq->size(); i += 3) {
    h = seq->ptr(i)->as<torch::nn::Conv2d>()->forward(h);
    auto* bn = seq->ptr(i + 1)->as<torch::nn::BatchNorm2d>();
    double momentum = 0;
    if (bn->is_training()) {  // as BatchNormImplBase::forward
      bn->num_batches_tracked += 1;
      momentum = bn->options.momentum() ? *bn->options.momentum()
                                        : 1.0 / static_cast<double>(bn->num_batches_tracked.item<int64_t>());
    }
    h = batch_norm_relu(h, bn->weight, bn->bias, bn->running_mean, bn->running_var, bn->is_training(), momentum,
                        bn->options.eps());
  }
  return h;
}

}  // namespace

UNetImpl::UNetImpl(int in, int b, int out) {
  // Registration order = the original's attribute order = state_dict order.
  enc1 = register_module("enc1", double_block(in, b));
  enc2 = register_module("enc2", double_block(b, 2 * b));
  enc3 = register_module("enc3", double_block(2 * b, 4 * b));
  enc4 = register_module("enc4", double_block(4 * b, 8 * b));
  bottleneck = register_module("bottleneck", double_block(8 * b, 16 * b));
  dec4 = register_module("dec4", double_block(16 * b + 8 * b, 8 * b));
  dec3 = register_module("dec3", double_block(8 * b + 4 * b, 4 * b));
  dec2 = register_module("dec2", double_block(4 * b + 2 * b, 2 * b));
  dec1 = register_module("dec1", double_block(2 * b + b, b));
  final = register_module("final", torch::nn::Conv2d(torch::nn::Conv2dOptions(b, out, 1)));
}

torch::Tensor UNetImpl::forward(torch::Tensor x) {
  auto e1 = block(enc1, x);
  auto e2 = block(enc2, torch::max_pool2d(e1, 2, 2));
  auto e3 = block(enc3, torch::max_pool2d(e2, 2, 2));
  auto e4 = block(enc4, torch::max_pool2d(e3, 2, 2));
  auto b = block(bottleneck, torch::max_pool2d(e4, 2, 2));
  auto d4 = block(dec4, upsample_cat(b, e4));
  auto d3 = block(dec3, upsample_cat(d4, e3));
  auto d2 = block(dec2, upsample_cat(d3, e2));
  auto d1 = block(dec1, upsample_cat(d2, e1));
  return final->forward(d1);
}

FoldedUNet::FoldedUNet(const UNetImpl& net, torch::ScalarType dtype, torch::Device device, Kernels kernels)
    : dtype_(dtype) {
  torch::NoGradGuard no_grad;
  const auto type = dtype == torch::kBFloat16 ? OnednnConv::Type::bf16 : OnednnConv::Type::f32;
  const bool onednn = kernels == Kernels::best && device.is_cpu() &&
                      (dtype == torch::kBFloat16 || dtype == torch::kFloat32) && OnednnConv::supported(type);
  auto make = [&](const torch::Tensor& weight, const torch::Tensor& bias, bool relu) {
    auto w = weight.detach().to(device, dtype, /*non_blocking=*/false, /*copy=*/true);  // a snapshot
    auto b = bias.detach().to(device, dtype, /*non_blocking=*/false, /*copy=*/true).contiguous();
    Conv c{w.contiguous(torch::MemoryFormat::ChannelsLast), b, nullptr};
    if (onednn) {
      w = w.contiguous();  // OIHW
      c.onednn = std::make_shared<const OnednnConv>(type, w.size(0), w.size(1), w.size(2), w.data_ptr(), b.data_ptr(),
                                                    relu);
    }
    return c;
  };
  for (const auto* seq :
       {&net.enc1, &net.enc2, &net.enc3, &net.enc4, &net.bottleneck, &net.dec4, &net.dec3, &net.dec2, &net.dec1}) {
    std::vector<Conv> convs;
    for (std::size_t i = 0; i + 1 < (*seq)->size(); i += 3) {
      const auto* conv = (*seq)->ptr(i)->as<torch::nn::Conv2d>();
      const auto* bn = (*seq)->ptr(i + 1)->as<torch::nn::BatchNorm2d>();
      // In fp32 (the stored precision), then cast.
      auto scale =
          bn->weight.to(torch::kFloat32) / torch::sqrt(bn->running_var.to(torch::kFloat32) + bn->options.eps());
      auto weight = conv->weight.to(torch::kFloat32) * scale.view({-1, 1, 1, 1});
      auto bias = (conv->bias.to(torch::kFloat32) - bn->running_mean.to(torch::kFloat32)) * scale +
                  bn->bias.to(torch::kFloat32);
      convs.push_back(make(weight, bias, /*relu=*/true));
    }
    blocks_.push_back(std::move(convs));
  }
  final_ = make(net.final->weight, net.final->bias, /*relu=*/false);
}

FoldedUNet::~FoldedUNet() = default;

torch::Tensor FoldedUNet::conv(const torch::Tensor& x, const Conv& c, bool relu) const {
  const int64_t pad = (c.weight.size(2) - 1) / 2;
  if (!c.onednn) {
    auto y = torch::conv2d(x, c.weight, c.bias, 1, pad);
    return relu ? y.relu_() : y;
  }
  auto in = x.contiguous(torch::MemoryFormat::ChannelsLast);
  const auto n = in.size(0), h = in.size(2), w = in.size(3);
  auto y = torch::empty({n, c.onednn->out_channels(), h, w}, in.options().memory_format(torch::MemoryFormat::ChannelsLast));
  if (y.numel() == 0) return y;
  c.onednn->forward(static_cast<int>(n), static_cast<int>(h), static_cast<int>(w), in.data_ptr(), y.data_ptr());
  return y;
}

torch::Tensor FoldedUNet::forward(const torch::Tensor& x) const {
  auto block = [&](torch::Tensor h, std::size_t k) {
    for (const auto& c : blocks_[k]) h = conv(h, c, /*relu=*/true);
    return h;
  };
  auto in = x.to(dtype_).contiguous(torch::MemoryFormat::ChannelsLast);
  auto e1 = block(in, 0);
  auto e2 = block(torch::max_pool2d(e1, 2, 2), 1);
  auto e3 = block(torch::max_pool2d(e2, 2, 2), 2);
  auto e4 = block(torch::max_pool2d(e3, 2, 2), 3);
  auto b = block(torch::max_pool2d(e4, 2, 2), 4);
  auto d4 = block(upsample_cat(b, e4), 5);
  auto d3 = block(upsample_cat(d4, e3), 6);
  auto d2 = block(upsample_cat(d3, e2), 7);
  auto d1 = block(upsample_cat(d2, e1), 8);
  return conv(d1, final_, /*relu=*/false).to(torch::kFloat32);
}

std::vector<std::pair<std::string, torch::Tensor>> state_tensors(UNetImpl& net) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& m : net.named_modules("", /*include_self=*/true)) {
    std::string prefix = m.key().empty() ? "" : m.key() + ".";
    for (const auto& p : m.value()->named_parameters(/*recurse=*/false)) out.emplace_back(prefix + p.key(), p.value());
    for (const auto& b : m.value()->named_buffers(/*recurse=*/false)) out.emplace_back(prefix + b.key(), b.value());
  }
  return out;
}

void load_state(UNetImpl& net, const std::vector<std::pair<std::string, torch::Tensor>>& state,
                const std::string& source) {
  std::map<std::string, torch::Tensor> given(state.begin(), state.end());
  torch::NoGradGuard no_grad;
  auto mine = state_tensors(net);
  auto found = [&] {  // what the file holds, for messages
    std::string keys;
    for (std::size_t i = 0; i < state.size() && i < 3; ++i) keys += (i ? ", " : "") + state[i].first;
    return fmt::format("the file has {} keys: {}{}", state.size(), keys, state.size() > 3 ? ", ..." : "");
  };
  for (auto& [name, t] : mine) {
    auto it = given.find(name);
    if (it == given.end())
      throw InvalidInput("{}: key {} is missing; {} (not a WaterMetersUNet state_dict of this size)", source, name,
                         found());
    if (it->second.sizes() != t.sizes())
      throw InvalidInput("{}: {} has shape {} but the model needs {} (check --base-filters)", source, name,
                         fmt::join(it->second.sizes(), "x"), fmt::join(t.sizes(), "x"));
    t.copy_(it->second.to(t.dtype()));
    given.erase(it);
  }
  if (!given.empty())
    throw InvalidInput("{}: unexpected key {}; {} (not a WaterMetersUNet state_dict)", source, given.begin()->first,
                       found());
}

}  // namespace wms::nn
