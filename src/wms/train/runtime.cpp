#include "wms/train/runtime.hpp"

#include <torch/torch.h>

#include "wms/util/error.hpp"
#include "wms/util/parallel.hpp"

namespace wms::train {

const util::Names<Device> kDeviceNames{{{Device::kAuto, "auto"}, {Device::kCpu, "cpu"}, {Device::kCuda, "cuda"}}};
const util::Names<Precision> kPrecisionNames{
    {{Precision::kAuto, "auto"}, {Precision::kFp32, "fp32"}, {Precision::kBf16, "bf16"}}};

int set_compute_threads(unsigned threads) {
  int n = static_cast<int>(threads ? threads : util::available_cores());
  at::set_num_threads(n);
  return n;
}

Device resolve_device(Device requested) {
  switch (requested) {
    case Device::kCpu: return Device::kCpu;
    case Device::kCuda:
      if (!torch::cuda::is_available())
        throw Unavailable("--device cuda: no usable CUDA device in this build or machine");
      return Device::kCuda;
    case Device::kAuto: break;
  }
  return torch::cuda::is_available() ? Device::kCuda : Device::kCpu;
}

bool cpu_has_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
}

Precision resolve_precision(Precision requested, Device device) {
  if (requested != Precision::kAuto) return requested;
  return device == Device::kCpu && cpu_has_bf16() ? Precision::kBf16 : Precision::kFp32;
}

}  // namespace wms::train
