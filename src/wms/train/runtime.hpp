// Compute settings shared by training and inference: threads and device.
#pragma once

#include <string>

namespace wms::train {

/// Sets the compute threads (0: every core this process may use; PyTorch's own
/// detection sees one core on these VMs). Returns the number set.
int set_compute_threads(unsigned threads);

/// "auto" -> "cuda" when a GPU is usable, else "cpu"; "cpu"/"cuda" are checked.
/// Throws Unavailable for "cuda" without a GPU, InvalidInput for other names.
std::string resolve_device(const std::string& requested);

/// "auto" -> "bf16" on CPUs with native bf16 (AVX512_BF16), else "fp32"; "fp32" and
/// "bf16" are taken as given. Throws InvalidInput for other names.
std::string resolve_precision(const std::string& requested, const std::string& device);

/// True when this CPU computes bf16 natively.
bool cpu_has_bf16();

}  // namespace wms::train
