#include "wms/gate/policy.hpp"

#include "wms/util/config.hpp"
#include "wms/util/error.hpp"

namespace wms::gate {
namespace {
bool known_metric(const std::string& m) {
  return m == "dice" || m == "iou" || m == "accuracy";
}
}  // namespace

const util::Names<GateRule> kGateRuleNames{{{GateRule::kWms, "wms"}, {GateRule::kOriginal, "original"}}};

const util::OptionTable<GatePolicy>& gate_option_table() {
  using util::Range;
  static const auto t =
      util::OptionTable<GatePolicy>()
          .add("gate.rule", "rule", WMS_MEMBER(rule), "decision rule", kGateRuleNames)
          .add("gate.metric", "metric", WMS_MEMBER(metric), "primary metric (higher is better)",
               util::one_of<std::string>({"dice", "iou", "accuracy"}), "one of dice, iou, accuracy")
          .add("gate.min_improvement", "min_improvement", WMS_MEMBER(min_improvement),
               "absolute, on the primary metric", Range::at_least(0))
          .add("gate.min_relative_improvement", "min_relative_improvement", WMS_MEMBER(min_relative_improvement),
               "relative to production's score", Range::at_least(0))
          .add("gate.bootstrap_resamples", "bootstrap_resamples", WMS_MEMBER(bootstrap_resamples),
               "paired bootstrap of per-image differences; 0 = off", Range::closed(0, 1000000))
          .add("gate.confidence", "confidence", WMS_MEMBER(confidence), "of the bootstrap interval", Range::open(0, 1))
          .add("gate.seed", "seed", WMS_MEMBER(seed), "of the bootstrap (decisions are reproducible)")
          .add("gate.require_significant", "require_significant", WMS_MEMBER(require_significant),
               "also require the interval's lower bound > 0")
          .add("gate.floor", "floor", WMS_MEMBER(floor), "no production yet: promote when the metric reaches it",
               Range::closed(0, 1));
  return t;
}

nlohmann::json GatePolicy::to_json() const {
  auto j = gate_option_table().record(*this);
  j["secondary"] = secondary;
  return j;
}

GatePolicy gate_policy(const util::Config& c) {
  GatePolicy p;
  for (auto& row : gate_option_table().rows()) row.read(p, c);
  if (c.has("gate.secondary")) {
    p.secondary.clear();
    for (auto& [k, v] : c.get_string_map("gate.secondary")) {
      try {
        p.secondary[k] = std::stod(v);
      } catch (const std::exception&) {
        throw InvalidInput("{}: gate.secondary.{}: expected a number (the allowed drop), found '{}'", c.source(), k, v);
      }
    }
  }
  gate_option_table().validate(p, c.source());
  for (auto& [k, v] : p.secondary)
    if (!known_metric(k) || v < 0)
      throw InvalidInput("{}: gate.secondary.{}: must name dice, iou or accuracy with a tolerance >= 0 (found {})",
                         c.source(), k, v);
  if (p.require_significant && p.bootstrap_resamples == 0)
    throw InvalidInput("{}: gate.require_significant needs gate.bootstrap_resamples > 0", c.source());
  return p;
}

}  // namespace wms::gate
