#include "wms/gate/decision.hpp"

#include <gtest/gtest.h>

#include "wms/util/config.hpp"
#include "wms/util/error.hpp"

namespace wms::gate {
namespace {

// An evaluation whose per-image Dice (and IoU = Dice - 0.05) are given.
train::EvalResult eval_of(const std::vector<double>& dice) {
  train::EvalResult r;
  r.score_size = 512;
  std::vector<nn::MaskScores> all;
  for (std::size_t i = 0; i < dice.size(); ++i) {
    train::ImageScores s;
    s.stem = "img" + std::to_string(i);
    s.at_input = {dice[i], dice[i] - 0.05, 0.99, 3.0};
    s.at_full = s.at_input;
    r.images.push_back(s);
    all.push_back(s.at_input);
  }
  r.mean_input = r.mean_full = nn::mean_scores(all);
  return r;
}

std::vector<double> shifted(std::vector<double> v, double by) {
  for (auto& x : v) x += by;
  return v;
}

const std::vector<double> kBase = {0.90, 0.92, 0.88, 0.95, 0.91, 0.93, 0.89, 0.94, 0.90, 0.92};

TEST(Gate, ImprovedCandidateIsPromoted) {
  auto champ = eval_of(kBase), cand = eval_of(shifted(kBase, 0.02));
  Decision d = decide(cand, &champ, GatePolicy{});
  EXPECT_TRUE(d.improved);
  EXPECT_EQ(d.verdict, "promote");
  EXPECT_NEAR(d.deltas["dice"].get<double>(), 0.02, 1e-9);
  EXPECT_GT(d.interval["low"].get<double>(), 0);
  EXPECT_NE(d.reason.find("dice"), std::string::npos);
  EXPECT_EQ(d.champion["dice"].get<double>(), champ.mean_input.dice);
}

TEST(Gate, TieKeepsChampion) {
  auto champ = eval_of(kBase), cand = eval_of(kBase);
  Decision d = decide(cand, &champ, GatePolicy{});
  EXPECT_FALSE(d.improved);
  EXPECT_EQ(d.verdict, "keep");
  EXPECT_NE(d.reason.find("tie"), std::string::npos) << d.reason;
}

TEST(Gate, WorseCandidateIsKept) {
  auto champ = eval_of(kBase), cand = eval_of(shifted(kBase, -0.01));
  EXPECT_FALSE(decide(cand, &champ, GatePolicy{}).improved);
}

TEST(Gate, NoisyButNotSignificantIsKeptWhenSignificanceIsRequired) {
  // Mean +0.002, but per-image differences swing +-0.05: the interval includes 0.
  std::vector<double> noisy = kBase;
  for (std::size_t i = 0; i < noisy.size(); ++i) noisy[i] += (i % 2 ? 0.052 : -0.048);
  auto champ = eval_of(kBase), cand = eval_of(noisy);
  GatePolicy p;
  EXPECT_TRUE(decide(cand, &champ, p).improved) << "by default a higher mean wins";
  p.require_significant = true;
  Decision d = decide(cand, &champ, p);
  EXPECT_FALSE(d.improved);
  EXPECT_LT(d.interval["low"].get<double>(), 0);
  EXPECT_NE(d.reason.find("not significant"), std::string::npos) << d.reason;
}

TEST(Gate, MinimumImprovementAndSecondaryTolerance) {
  auto champ = eval_of(kBase), cand = eval_of(shifted(kBase, 0.004));
  GatePolicy p;
  p.min_improvement = 0.005;
  EXPECT_FALSE(decide(cand, &champ, p).improved);
  p.min_improvement = 0.003;
  EXPECT_TRUE(decide(cand, &champ, p).improved);
  // Dice up, IoU down more than the tolerance: kept.
  auto worse_iou = cand;
  for (auto& i : worse_iou.images) i.at_input.iou -= 0.02;
  worse_iou.mean_input.iou -= 0.02;
  Decision d = decide(worse_iou, &champ, p);
  EXPECT_FALSE(d.improved);
  EXPECT_NE(d.reason.find("iou dropped"), std::string::npos) << d.reason;
}

TEST(Gate, NoProductionPromotesAboveTheFloor) {
  GatePolicy p;
  p.floor = 0.9;
  EXPECT_TRUE(decide(eval_of(kBase), nullptr, p).improved);  // mean 0.914
  p.floor = 0.95;
  Decision d = decide(eval_of(kBase), nullptr, p);
  EXPECT_FALSE(d.improved);
  EXPECT_TRUE(d.champion.is_null());
  EXPECT_NE(d.reason.find("no production model"), std::string::npos);
}

TEST(Gate, OriginalRuleNeedsDiceAndIouBothStrictlyGreater) {
  auto p = gate_policy(util::Config::parse("gate: {rule: original}", "wms.yaml"));
  EXPECT_EQ(p.rule, GateRule::kOriginal);
  auto champ = eval_of(kBase);
  EXPECT_TRUE(decide(eval_of(shifted(kBase, 0.001)), &champ, p).improved);
  EXPECT_FALSE(decide(eval_of(kBase), &champ, p).improved);
  auto dice_only = eval_of(shifted(kBase, 0.01));
  dice_only.mean_input.iou = champ.mean_input.iou;  // iou equal: not strictly greater
  EXPECT_FALSE(decide(dice_only, &champ, p).improved);
}

TEST(Gate, BootstrapIsReproducibleForASeed) {
  std::vector<double> d = {0.1, -0.05, 0.02, 0.03, -0.01, 0.04};
  EXPECT_EQ(bootstrap_interval(d, 500, 0.9, 7), bootstrap_interval(d, 500, 0.9, 7));
  auto [lo, hi] = bootstrap_interval(d, 2000, 0.95, 1);
  EXPECT_LT(lo, 0.0217);
  EXPECT_GT(hi, 0.0217);
}

TEST(Gate, PolicyValuesAreChecked) {
  EXPECT_THROW(gate_policy(util::Config::parse("gate: {rule: lenient}", "w")), InvalidInput);
  EXPECT_THROW(gate_policy(util::Config::parse("gate: {metric: loss}", "w")), InvalidInput);
  EXPECT_THROW(gate_policy(util::Config::parse("gate: {confidence: 1.5}", "w")), InvalidInput);
  EXPECT_THROW(gate_policy(util::Config::parse("gate: {require_significant: true, bootstrap_resamples: 0}", "w")),
               InvalidInput);
  auto p = gate_policy(util::Config::parse("gate: {secondary: {accuracy: 0.01}}", "w"));
  EXPECT_EQ(p.secondary.size(), 1u);
  EXPECT_DOUBLE_EQ(p.secondary["accuracy"], 0.01);
}

}  // namespace
}  // namespace wms::gate
