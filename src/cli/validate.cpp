#include "cli/batch_args.hpp"
#include "cli/command.hpp"
#include "wms/data/ingest.hpp"
#include "wms/util/error.hpp"

namespace wms::cli {
namespace {

struct ValidateArgs {
  BatchArgs batch;
  bool alone = false, list_rules = false;
};

}  // namespace

void add_validate(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("validate",
                                  "check a batch of photos and masks (alone, or against the workspace's dataset); "
                                  "exit 1 on errors");
  auto a = std::make_shared<ValidateArgs>();
  a->batch.add_to(*app);
  app->add_flag("--alone", a->alone, "do not compare with the workspace's dataset (no workspace needed)");
  app->add_flag("--rules", a->list_rules, "list the validation rules and exit");
  add_common_options(*app, g, true, true);
  out.push_back({app, [a, &g] {
                   if (a->list_rules) {
                     nlohmann::json j = nlohmann::json::array();
                     for (const auto& r : data::rules()) {
                       if (g.json)
                         j.push_back({{"rule", r.id}, {"severity", data::severity_name(r.severity)}, {"what", r.what}});
                       else
                         std::printf("%-26s %-8s %s\n", r.id.c_str(), data::severity_name(r.severity).c_str(),
                                     r.what.c_str());
                     }
                     if (g.json) print_json(j);
                     return kExitOk;
                   }
                   // Without --alone, compare with the workspace's dataset when there is a workspace.
                   std::optional<data::Workspace> ws;
                   if (!a->alone) {
                     try {
                       ws = data::Workspace::open(g.workspace);
                     } catch (const NotFound&) {
                     }
                   }
                   util::Config config = ws ? ws->config() : util::Config();
                   auto options = data::validation_options(config);
                   options.threads = g.threads;
                   auto existing = ws ? data::existing_dataset(*ws) : data::ExistingDataset{};
                   auto v = data::validate_batch(a->batch.source(), existing, options);
                   if (g.json)
                     print_json(v.report.to_json());
                   else
                     std::fputs(v.report.to_text().c_str(), stdout);
                   return v.report.ok() ? kExitOk : kExitDataInvalid;
                 }});
}

}  // namespace wms::cli
