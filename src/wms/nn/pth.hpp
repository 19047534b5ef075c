// PRIVATE (includes torch): PyTorch's torch.save file format for a state_dict, read and
// written without Python. The file is a zip (<name>/data.pkl, <name>/data/<key>,
// <name>/version) whose data.pkl is a pickle of an OrderedDict of
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) calls.
//
// LibTorch 1.13's own unpickler cannot read an OrderedDict state_dict, so wms carries
// a small, bounds-checked pickle reader for exactly this shape (and nothing else:
// any other global is refused, so a hostile .pth cannot run code). Writing produces a
// file that torch.load() reads back as an OrderedDict (tested with Debian's python3-torch).
#pragma once

#include <torch/torch.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wms::nn {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// Parses torch.save(state_dict) bytes. Throws Corrupt naming `source` on anything else.
NamedTensors read_pth(std::string_view bytes, const std::string& source);

/// Serialises tensors (moved to CPU, made contiguous) as torch.save would.
std::string write_pth(const NamedTensors& tensors);

}  // namespace wms::nn
