// The presets shipped inside the binary (generated at build time from presets/*.yaml).
#pragma once

#include <string>
#include <vector>

namespace wms::train {

struct Preset {
  std::string name;  ///< file name without .yaml
  std::string text;
};

const std::vector<Preset>& presets();

}  // namespace wms::train
