// Compute settings shared by training and inference: threads, device and precision.
#pragma once

#include "wms/util/options.hpp"

namespace wms::train {

/// Where the model runs. kAuto resolves to kCuda when a GPU is usable, else kCpu.
enum class Device { kAuto, kCpu, kCuda };
/// The forward pass's arithmetic: kBf16 is mixed precision (bf16 convolutions, fp32
/// weights and loss); kAuto resolves to kBf16 on CPUs with native bf16, else kFp32.
enum class Precision { kAuto, kFp32, kBf16 };

/// "auto", "cpu", "cuda" (wms.yaml, the CLI's --device, recorded params).
extern const util::Names<Device> kDeviceNames;
/// "auto", "fp32", "bf16".
extern const util::Names<Precision> kPrecisionNames;

/// Sets the compute threads (0: every core this process may use; PyTorch's own
/// detection sees one core on these VMs). Returns the number set.
int set_compute_threads(unsigned threads);

/// kAuto -> kCuda when a GPU is usable, else kCpu. Throws Unavailable for kCuda
/// without a GPU. Never returns kAuto.
Device resolve_device(Device requested);

/// kAuto -> kBf16 on a CPU with native bf16 (AVX512_BF16), else kFp32; the others are
/// taken as given. `device` is a resolved one. Never returns kAuto.
Precision resolve_precision(Precision requested, Device device);

/// True when this CPU computes bf16 natively.
bool cpu_has_bf16();

}  // namespace wms::train
