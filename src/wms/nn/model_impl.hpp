// PRIVATE (includes torch): what a Model holds. nn/ and train/ .cpp files only.
#pragma once

#include <mutex>

#include "wms/nn/model.hpp"
#include "wms/nn/unet.hpp"

namespace wms::nn {

struct Model::Impl {
  UNet net{nullptr};
  ModelInfo info;
  std::mutex mu;  ///< serialises forward passes of users that share the model
};

}  // namespace wms::nn
