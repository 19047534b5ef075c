#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/inputs.hpp"
#include "wms/gate/decision.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/error.hpp"

namespace wms::cli {

void print_decision(const gate::Decision& d) {
  std::printf("decision: %s — %s\n", d.verdict.c_str(), d.reason.c_str());
  std::printf("  %-10s %10s %10s %10s\n", "", "candidate", "production", "delta");
  for (const char* m : {"dice", "iou", "accuracy", "hausdorff"}) {
    std::string champ = d.champion.is_null() ? "-" : fmt::format("{:.4f}", d.champion[m].get<double>());
    std::string delta = d.deltas.contains(m) ? fmt::format("{:+.4f}", d.deltas[m].get<double>()) : "-";
    std::printf("  %-10s %10.4f %10s %10s\n", m, d.candidate[m].get<double>(), champ.c_str(), delta.c_str());
  }
  if (!d.interval.is_null())
    std::printf("  %s difference, %.0f%% bootstrap interval: [%+.4f, %+.4f] over %zu images\n",
                d.interval["metric"].get<std::string>().c_str(), 100 * d.interval["confidence"].get<double>(),
                d.interval["low"].get<double>(), d.interval["high"].get<double>(), d.images);
}

namespace {

struct GateArgs {
  std::string candidate;
  std::string data_ref;
  train::Device device = train::Device::kAuto;
  bool record = true;
};

}  // namespace

void add_gate(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("gate",
                                  "compare a candidate with production on the same test split and decide "
                                  "(exit 0: would promote, 10: would keep production)");
  auto a = std::make_shared<GateArgs>();
  app->add_option("--candidate,-c", a->candidate, "model version, alias or bundle file")->required();
  app->add_option("--data,-d", a->data_ref, "dataset version whose test split is used (default: head)");
  app->add_flag("!--no-record", a->record, "do not store the decision in the registry");
  add_device_option(*app, a->device);
  add_common_options(*app, g, true, true);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::open(g.workspace);
                   auto reg = registry::open(ws);
                   auto cand = load_model(g, a->candidate);
                   auto champion_version = reg.alias(registry::kProduction);
                   std::optional<nn::Model> champ;
                   if (champion_version) champ = registry::load_version(ws, reg, *champion_version);
                   auto sel = select_data(g, a->data_ref);
                   auto policy = gate::gate_policy(ws.config());
                   train::EvalOptions eo;
                   eo.threads = g.threads;
                   eo.device = a->device;
                   auto d = gate::run_gate(cand, champ ? &*champ : nullptr,
                                           train::only(sel.samples, data::Split::kTest), policy, eo);
                   std::int64_t id = 0;
                   if (a->record)
                     id = gate::record_decision(reg, d, registry::resolve_version(reg, a->candidate), champion_version,
                                                sel.dataset_version)
                              .id;
                   if (g.json) {
                     auto j = d.to_json();
                     j["decision_id"] = id;
                     print_json(j);
                   } else {
                     print_decision(d);
                     if (a->record) std::printf("recorded as decision %lld\n", static_cast<long long>(id));
                   }
                   return d.improved ? kExitOk : kExitNotImproved;
                 }});
}

}  // namespace wms::cli
