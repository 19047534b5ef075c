#include "wms/nn/losses.hpp"

#include "wms/util/error.hpp"

namespace wms::nn {

torch::Tensor segmentation_loss(const torch::Tensor& logits, const torch::Tensor& target, const LossOptions& o) {
  auto bce = torch::binary_cross_entropy_with_logits(logits, target);
  if (o.kind == "bce") return bce;
  if (o.kind != "bce_dice") throw InvalidInput("loss '{}' is not bce or bce_dice", o.kind);
  auto p = torch::sigmoid(logits).flatten(1);
  auto t = target.flatten(1);
  auto inter = (p * t).sum(1);
  auto dice = (2 * inter + 1.0) / (p.sum(1) + t.sum(1) + 1.0);
  return bce + o.dice_weight * (1 - dice).mean();
}

}  // namespace wms::nn
