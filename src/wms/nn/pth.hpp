// PRIVATE (includes torch): PyTorch's torch.save file format for a state_dict, read and
// written without Python. The file is a zip (<name>/data.pkl, <name>/data/<key>,
// <name>/version) whose data.pkl is a pickle of an OrderedDict of
// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) calls.
//
// LibTorch 1.13's own unpickler cannot read an OrderedDict state_dict, so wms carries
// a small, bounds-checked pickle reader. It calls nothing: OrderedDict and the tensor
// rebuilders are interpreted, any other class or function is kept as a name (an
// "opaque" object), so a hostile .pth cannot run code, and a checkpoint that also holds
// an optimizer or numpy values can still be read for its model weights. Writing produces a
// file that torch.load() reads back as an OrderedDict (tested with Debian's python3-torch).
#pragma once

#include <torch/torch.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wms::nn {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct PthContents {
  NamedTensors tensors;
  std::string note;  ///< how the state_dict was found, when not at the top ("took 'model_state_dict' ...")
};

/// Parses what PyTorch's documented ways of saving write: torch.save(model.state_dict())
/// or a general checkpoint {'model_state_dict': ..., 'optimizer_state_dict': ..., ...}.
/// Anything else (a whole pickled model, a TorchScript archive, the pre-1.6 format,
/// another file) throws InvalidInput naming `source`, what was found (its top-level
/// keys or class) and how to re-save it. Thread-safe.
PthContents read_pth(std::string_view bytes, const std::string& source);

/// Serialises tensors (moved to CPU, made contiguous) as torch.save would.
std::string write_pth(const NamedTensors& tensors);

}  // namespace wms::nn
