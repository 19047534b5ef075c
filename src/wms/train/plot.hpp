// Training curves as a small self-contained SVG (train loss, val loss, val Dice per
// epoch), written into each run folder so a run can be looked at without any tool.
#pragma once

#include <string>
#include <vector>

#include "wms/train/sink.hpp"

namespace wms::train {

std::string curves_svg(const std::vector<EpochMetrics>& history, const std::string& title);

}  // namespace wms::train
