#include "wms/train/plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

namespace wms::train {

std::string curves_svg(const std::vector<EpochMetrics>& h, const std::string& title) {
  const int w = 640, ht = 320, pad = 40;
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"12\">"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/><text x=\"{}\" y=\"20\">{}</text>",
      w, ht, pad, title);
  if (h.empty()) return out + "</svg>\n";
  double loss_max = 1e-9;
  for (const auto& m : h) loss_max = std::max({loss_max, m.train_loss, m.val_loss});
  auto x = [&](int epoch) { return pad + (h.size() > 1 ? (epoch - 1) * (w - 2.0 * pad) / (h.size() - 1) : 0.0); };
  auto y = [&](double v) { return ht - pad - v * (ht - 2.0 * pad); };
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#999\"/>", pad, ht - pad, w - pad);
  auto line = [&](const std::function<double(const EpochMetrics&)>& f, const char* color, const char* name, int row) {
    std::string pts;
    for (const auto& m : h) pts += fmt::format("{:.1f},{:.1f} ", x(m.epoch), y(std::clamp(f(m), 0.0, 1.0)));
    out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>", color, pts);
    out += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>", w - 200, 20 + 16 * row, color, name);
  };
  line([&](const EpochMetrics& m) { return m.train_loss / loss_max; }, "#ef6c00", "train loss (scaled)", 0);
  if (h.front().validated) {
    line([&](const EpochMetrics& m) { return m.val_loss / loss_max; }, "#6a1b9a", "val loss (scaled)", 1);
    line([](const EpochMetrics& m) { return m.val_dice; }, "#1565c0", "val dice", 2);
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\">epoch 1</text><text x=\"{}\" y=\"{}\">{}</text>", pad, ht - pad + 16,
                     w - pad - 30, ht - pad + 16, h.back().epoch);
  return out + "</svg>\n";
}

}  // namespace wms::train
