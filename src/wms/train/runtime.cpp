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

}  // namespace wms::train
