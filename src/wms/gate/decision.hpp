// Champion / challenger: one decision from two evaluations on the same test images.
//
// decide() is pure: the scores in, a verdict and a one-line reason out, with both
// models' scores, the deltas, the bootstrap interval and the policy kept in the record.
// run_gate() evaluates both models in this process with the same code and
// preprocessing on the same split, then decides. A missing champion is compared with
// the policy's floor.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "wms/gate/policy.hpp"
#include "wms/nn/model.hpp"
#include "wms/registry/registry.hpp"
#include "wms/train/evaluator.hpp"

namespace wms::gate {

struct Decision {
  bool improved = false;
  std::string verdict;                                  ///< "promote" | "keep"
  std::string reason;                                   ///< one line for people
  nlohmann::json candidate = nlohmann::json::object();  ///< mean scores
  nlohmann::json champion = nullptr;                    ///< mean scores, or null
  nlohmann::json deltas = nlohmann::json::object();
  nlohmann::json interval = nullptr;  ///< {"metric","low","high","confidence","resamples"}
  nlohmann::json policy = nlohmann::json::object();
  std::size_t images = 0;

  nlohmann::json to_json() const;
};

/// REQUIRES: with a champion, both results score the same images in the same order.
Decision decide(const train::EvalResult& candidate, const train::EvalResult* champion, const GatePolicy& policy);

Decision run_gate(const nn::Model& candidate, const nn::Model* champion, const std::vector<train::Sample>& test,
                  const GatePolicy& policy, const train::EvalOptions& eval);

/// Stores a decision in the registry, the one way `wms gate` and the pipeline record
/// one, and returns the record with its id and time. `candidate`/`champion` are model
/// versions (none for a bundle file / no production). Throws what the registry throws.
registry::DecisionRecord record_decision(registry::Registry& reg, const Decision& d, std::optional<int> candidate,
                                         std::optional<int> champion, const std::string& dataset_version,
                                         const std::string& run = "");

/// Paired bootstrap of mean(differences): the (1-confidence)/2 and (1+confidence)/2
/// quantiles of `resamples` resampled means. Deterministic for a seed.
std::pair<double, double> bootstrap_interval(const std::vector<double>& differences, int resamples, double confidence,
                                             std::uint64_t seed);

}  // namespace wms::gate
