// The validation rules: ids, default severities and the options they read.
//
// Rule ids appear in reports, JSON and config (validation.severity); never rename one.
// Each option says its default and why; wms.yaml overrides them under `validation:`.
#pragma once

#include "wms/util/options.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wms/data/report.hpp"
#include "wms/image/decode.hpp"

namespace wms::util {
class Config;
}

namespace wms::data {

struct Rule {
  std::string id;
  Severity severity;  ///< default; validation.severity.<id> overrides
  std::string what;   ///< one line for `wms validate --rules`
};

/// Every rule, in the order reports list them.
const std::vector<Rule>& rules();

struct ValidationOptions {
  image::DecodeLimits limits;                  ///< max_pixels: 64 MP (decompression bombs)
  std::uint64_t max_file_bytes = 50ull << 20;  ///< 50 MiB: above any phone JPEG
  int min_side = 64;                           ///< smaller photos cannot show a readable window
  int mask_threshold = 127;                    ///< foreground = value >= 127 (masks are JPEG near 0/255)
  int grey_low = 16;                           ///< mid-grey band [grey_low, grey_high] counts as "not binary"
  int grey_high = 239;
  double max_grey_share = 0.01;             ///< real masks: 0.09% mid-grey at edges; noise: 5%
  std::int64_t min_foreground_pixels = 64;  ///< fewer is an empty mask
  double min_foreground_share = 0.001;      ///< real windows: 0.28%..15% of the photo
  double max_foreground_share = 0.40;
  int max_regions = 1;  ///< a meter has one reading window
  /// File stems (the last part of the relative path) must match this (ECMAScript regex); empty disables the rule.
  /// Default: the water-meter dataset's convention id_<N>_value_<A>_<B>.
  std::string name_pattern = "^id_[0-9]+_value_[0-9]+_[0-9]+$";
  std::map<std::string, Severity> severity;  ///< per-rule overrides
  unsigned threads = 0;                      ///< 0: every core

  Severity severity_of(const std::string& rule) const;
};

/// The options table of `validation:` (util/options.hpp); validation.severity is read beside it.
const util::OptionTable<ValidationOptions>& validation_option_table();

/// Reads `validation:` from wms.yaml; unknown rule ids in validation.severity are an error.
ValidationOptions validation_options(const util::Config& config);

}  // namespace wms::data
