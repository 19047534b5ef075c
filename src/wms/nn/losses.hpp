// PRIVATE (includes torch): training losses.
//   bce:       binary cross-entropy with logits, mean over pixels (the original)
//   bce_dice:  bce + dice_weight * (1 - soft Dice), soft Dice per image then averaged;
//              helps when the foreground is ~2% of the photo.
#pragma once

#include <torch/torch.h>

#include <string>

namespace wms::nn {

struct LossOptions {
  std::string kind = "bce";  ///< "bce" | "bce_dice"
  double dice_weight = 1.0;
};

/// logits, target: N x 1 x H x W (target 0/1 float). Returns a scalar.
torch::Tensor segmentation_loss(const torch::Tensor& logits, const torch::Tensor& target, const LossOptions& o);

}  // namespace wms::nn
