// The gate's policy: how much better a candidate must be to replace production.
// Read from wms.yaml `gate:`; every field has a default and a reason.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "wms/util/options.hpp"

namespace wms::gate {

/// "wms": the primary metric must improve by more than min_improvement (a tie keeps the
/// champion) and secondaries may not drop by more than their tolerance.
/// "original": the original's rule, dice AND iou both strictly greater.
enum class GateRule { kWms, kOriginal };
extern const util::Names<GateRule> kGateRuleNames;

struct GatePolicy {
  GateRule rule = GateRule::kWms;
  std::string metric = "dice";                                 ///< dice | iou | accuracy (higher is better)
  double min_improvement = 0.0;                                ///< absolute, on the primary metric
  double min_relative_improvement = 0.0;                       ///< relative to the champion's score
  std::map<std::string, double> secondary = {{"iou", 0.005}};  ///< metric -> allowed drop
  int bootstrap_resamples = 2000;                              ///< paired bootstrap of per-image differences; 0 = off
  double confidence = 0.95;                                    ///< of the bootstrap interval
  std::uint64_t seed = 1;                                      ///< of the bootstrap (decisions are reproducible)
  bool require_significant = false;                            ///< also require the interval's lower bound > 0
  double floor = 0.5;                                          ///< no production yet: promote when metric >= floor

  nlohmann::json to_json() const;
};

/// The options table of gate.* (util/options.hpp); gate.secondary is read beside it.
const util::OptionTable<GatePolicy>& gate_option_table();

/// Reads gate.* (gate.rule, gate.metric, gate.min_improvement, gate.min_relative_improvement,
/// gate.secondary.<metric>, gate.bootstrap_resamples, gate.confidence, gate.seed,
/// gate.require_significant, gate.floor). Throws InvalidInput naming the key.
GatePolicy gate_policy(const util::Config& config);

}  // namespace wms::gate
