#include "wms/gate/policy.hpp"

#include "wms/util/config.hpp"
#include "wms/util/error.hpp"

namespace wms::gate {
namespace {
bool known_metric(const std::string& m) { return m == "dice" || m == "iou" || m == "accuracy"; }
}  // namespace

nlohmann::json GatePolicy::to_json() const {
  return {{"rule", rule}, {"metric", metric}, {"min_improvement", min_improvement},
          {"min_relative_improvement", min_relative_improvement}, {"secondary", secondary},
          {"bootstrap_resamples", bootstrap_resamples}, {"confidence", confidence}, {"seed", seed},
          {"require_significant", require_significant}, {"floor", floor}};
}

GatePolicy gate_policy(const util::Config& c) {
  GatePolicy p;
  p.rule = c.get_string("gate.rule", p.rule);
  p.metric = c.get_string("gate.metric", p.metric);
  p.min_improvement = c.get_double("gate.min_improvement", p.min_improvement);
  p.min_relative_improvement = c.get_double("gate.min_relative_improvement", p.min_relative_improvement);
  if (c.has("gate.secondary")) {
    p.secondary.clear();
    for (auto& [k, v] : c.get_string_map("gate.secondary")) {
      try {
        p.secondary[k] = std::stod(v);
      } catch (const std::exception&) {
        throw InvalidInput("{}: gate.secondary.{}: expected a number (the allowed drop)", c.source(), k);
      }
    }
  }
  p.bootstrap_resamples = static_cast<int>(c.get_int("gate.bootstrap_resamples", p.bootstrap_resamples));
  p.confidence = c.get_double("gate.confidence", p.confidence);
  p.seed = static_cast<std::uint64_t>(c.get_int("gate.seed", static_cast<std::int64_t>(p.seed)));
  p.require_significant = c.get_bool("gate.require_significant", p.require_significant);
  p.floor = c.get_double("gate.floor", p.floor);
  if (p.rule != "wms" && p.rule != "original") throw InvalidInput("{}: gate.rule: must be wms or original", c.source());
  if (!known_metric(p.metric)) throw InvalidInput("{}: gate.metric: must be dice, iou or accuracy", c.source());
  for (auto& [k, v] : p.secondary)
    if (!known_metric(k) || v < 0) throw InvalidInput("{}: gate.secondary.{}: unknown metric or negative tolerance", c.source(), k);
  if (!(p.confidence > 0 && p.confidence < 1)) throw InvalidInput("{}: gate.confidence: must be between 0 and 1", c.source());
  if (p.bootstrap_resamples < 0 || p.bootstrap_resamples > 1000000)
    throw InvalidInput("{}: gate.bootstrap_resamples: must be 0..1000000", c.source());
  if (p.require_significant && p.bootstrap_resamples == 0)
    throw InvalidInput("{}: gate.require_significant needs gate.bootstrap_resamples > 0", c.source());
  return p;
}

}  // namespace wms::gate
