#include "wms/train/runtime.hpp"

#include <torch/torch.h>

#include "wms/util/error.hpp"
#include "wms/util/parallel.hpp"

namespace wms::train {

int set_compute_threads(unsigned threads) {
  int n = static_cast<int>(threads ? threads : util::available_cores());
  at::set_num_threads(n);
  return n;
}

std::string resolve_device(const std::string& requested) {
  if (requested == "cpu") return "cpu";
  if (requested == "cuda") {
    if (!torch::cuda::is_available()) throw Unavailable("--device cuda: no usable CUDA device in this build or machine");
    return "cuda";
  }
  if (requested == "auto") return torch::cuda::is_available() ? "cuda" : "cpu";
  throw InvalidInput("--device {}: must be auto, cpu or cuda", requested);
}

bool cpu_has_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
}

std::string resolve_precision(const std::string& requested, const std::string& device) {
  if (requested == "fp32" || requested == "bf16") return requested;
  if (requested == "auto") return device == "cpu" && cpu_has_bf16() ? "bf16" : "fp32";
  throw InvalidInput("precision {}: must be auto, fp32 or bf16", requested);
}

}  // namespace wms::train
