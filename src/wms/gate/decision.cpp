#include "wms/gate/decision.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"

namespace wms::gate {
namespace {

double pick(const nn::MaskScores& s, const std::string& metric) {
  if (metric == "dice") return s.dice;
  if (metric == "iou") return s.iou;
  if (metric == "accuracy") return s.accuracy;
  throw Internal("unknown metric {}", metric);
}

nlohmann::json means(const train::EvalResult& r) {
  return {{"dice", r.mean_input.dice},           {"iou", r.mean_input.iou},       {"accuracy", r.mean_input.accuracy},
          {"hausdorff", r.mean_input.hausdorff}, {"dice_full", r.mean_full.dice}, {"iou_full", r.mean_full.iou},
          {"score_size", r.score_size},          {"images", r.images.size()}};
}

}  // namespace

nlohmann::json Decision::to_json() const {
  return {{"improved", improved},   {"verdict", verdict},   {"reason", reason},
          {"candidate", candidate}, {"champion", champion}, {"deltas", deltas},
          {"interval", interval},   {"policy", policy},     {"images", images}};
}

std::pair<double, double> bootstrap_interval(const std::vector<double>& d, int resamples, double confidence,
                                             std::uint64_t seed) {
  if (d.empty() || resamples <= 0) return {0, 0};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick_one(0, d.size() - 1);
  std::vector<double> means(resamples);
  for (int r = 0; r < resamples; ++r) {
    double sum = 0;
    for (std::size_t i = 0; i < d.size(); ++i) sum += d[pick_one(rng)];
    means[r] = sum / d.size();
  }
  std::sort(means.begin(), means.end());
  auto at = [&](double q) {
    return means[std::min<std::size_t>(means.size() - 1, static_cast<std::size_t>(q * resamples))];
  };
  return {at((1 - confidence) / 2), at((1 + confidence) / 2)};
}

Decision decide(const train::EvalResult& cand, const train::EvalResult* champ, const GatePolicy& p) {
  Decision d;
  d.policy = p.to_json();
  d.candidate = means(cand);
  d.images = cand.images.size();
  const double c = pick(cand.mean_input, p.metric);
  if (!champ) {
    d.improved = c >= p.floor;
    d.reason = fmt::format("no production model yet: {} {:.4f} {} the floor {:.4f}", p.metric, c,
                           d.improved ? ">=" : "<", p.floor);
  } else {
    if (champ->images.size() != cand.images.size()) throw Internal("gate: the two evaluations scored different images");
    d.champion = means(*champ);
    for (const char* m : {"dice", "iou", "accuracy"})
      d.deltas[m] = pick(cand.mean_input, m) - pick(champ->mean_input, m);
    d.deltas["hausdorff"] = cand.mean_input.hausdorff - champ->mean_input.hausdorff;
    const double h = pick(champ->mean_input, p.metric);
    const double delta = c - h;
    if (p.bootstrap_resamples > 0) {
      std::vector<double> diffs;
      for (std::size_t i = 0; i < cand.images.size(); ++i)
        diffs.push_back(pick(cand.images[i].at_input, p.metric) - pick(champ->images[i].at_input, p.metric));
      auto [lo, hi] = bootstrap_interval(diffs, p.bootstrap_resamples, p.confidence, p.seed);
      d.interval = {{"metric", p.metric},
                    {"low", lo},
                    {"high", hi},
                    {"confidence", p.confidence},
                    {"resamples", p.bootstrap_resamples}};
    }
    if (p.rule == GateRule::kOriginal) {
      double dd = cand.mean_input.dice - champ->mean_input.dice, di = cand.mean_input.iou - champ->mean_input.iou;
      d.improved = dd > 0 && di > 0;
      d.reason = fmt::format("original rule: dice {:.4f} vs {:.4f} ({:+.4f}), iou {:.4f} vs {:.4f} ({:+.4f}): {}",
                             cand.mean_input.dice, champ->mean_input.dice, dd, cand.mean_input.iou,
                             champ->mean_input.iou, di, d.improved ? "both greater" : "not both greater");
    } else {
      std::string why;
      bool ok = delta > p.min_improvement && delta >= p.min_relative_improvement * h;
      if (delta == 0)
        why = fmt::format("{} {:.4f} equals the champion's: a tie keeps the champion", p.metric, c);
      else if (!ok)
        why =
            fmt::format("{} {:.4f} vs {:.4f} ({:+.4f}) is not above the required improvement ({:.4f} abs, {:.2f}% rel)",
                        p.metric, c, h, delta, p.min_improvement, 100 * p.min_relative_improvement);
      for (auto& [m, tol] : p.secondary) {
        double dm = pick(cand.mean_input, m) - pick(champ->mean_input, m);
        if (ok && dm < -tol) {
          ok = false;
          why = fmt::format("{} improved ({:+.4f}) but {} dropped {:+.4f}, more than the tolerance {:.4f}", p.metric,
                            delta, m, dm, tol);
        }
      }
      if (ok && p.require_significant && !(d.interval["low"].get<double>() > 0)) {
        ok = false;
        why =
            fmt::format("{} {:+.4f} but its {:.0f}% interval [{:+.4f}, {:+.4f}] includes 0: not significant", p.metric,
                        delta, 100 * p.confidence, d.interval["low"].get<double>(), d.interval["high"].get<double>());
      }
      if (ok)
        why = fmt::format("{} {:.4f} vs {:.4f} ({:+.4f}){}", p.metric, c, h, delta,
                          d.interval.is_null()
                              ? std::string()
                              : fmt::format(", {:.0f}% interval [{:+.4f}, {:+.4f}]", 100 * p.confidence,
                                            d.interval["low"].get<double>(), d.interval["high"].get<double>()));
      d.improved = ok;
      d.reason = why;
    }
  }
  d.verdict = d.improved ? "promote" : "keep";
  return d;
}

Decision run_gate(const nn::Model& candidate, const nn::Model* champion, const std::vector<train::Sample>& test,
                  const GatePolicy& policy, const train::EvalOptions& eval) {
  if (test.empty()) throw InvalidInput("gate: the test split is empty; add data before gating");
  train::DecodedPhotos photos;  // both sides score the same photos: decoded once
  auto options = eval;
  if (!options.photos) options.photos = &photos;
  auto c = train::evaluate(candidate, test, options);
  if (!champion) return decide(c, nullptr, policy);
  auto h = train::evaluate(*champion, test, options);
  return decide(c, &h, policy);
}

registry::DecisionRecord record_decision(registry::Registry& reg, const Decision& d, std::optional<int> candidate,
                                         std::optional<int> champion, const std::string& dataset_version,
                                         const std::string& run) {
  registry::DecisionRecord r;
  r.time = util::now_seconds();
  r.candidate = candidate;
  r.champion = champion;
  r.dataset_version = dataset_version;
  r.run = run;
  r.verdict = d.verdict;
  r.reason = d.reason;
  r.body = d.to_json();
  r.id = reg.record_decision(r);
  return r;
}

}  // namespace wms::gate
