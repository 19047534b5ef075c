// PRIVATE (includes torch): bf16 mixed precision on CPUs with native bf16 (AVX512_BF16,
// AMX). Inside the guard, convolutions run in bf16 (oneDNN, ~2.8x faster than fp32 on
// such CPUs) while weights, optimiser state and the loss stay fp32; the U-Net's
// upsampling and its BatchNorm + ReLU are wms's own bf16 kernels (nn/upsample.hpp,
// nn/batchnorm.hpp): PyTorch 1.13's bf16 upsampling backward is a slow scalar kernel
// (it took 40% of a bf16 training step).
#pragma once

#include <ATen/autocast_mode.h>

namespace wms::nn {

class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    was_enabled_ = at::autocast::is_cpu_enabled();
    was_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~Bf16Autocast() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(was_dtype_);
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool enabled_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kBFloat16;
};

}  // namespace wms::nn
