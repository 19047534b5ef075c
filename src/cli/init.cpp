#include "cli/command.hpp"
#include "wms/data/workspace.hpp"
#include "wms/gate/policy.hpp"
#include "wms/train/config.hpp"

namespace wms::cli {

namespace {

struct InitArgs {
  std::string dir;
};

// The training and gate options with their defaults, commented out, from their tables.
std::string commented_defaults() {
  return "\n# Training (wms train, the pipeline's train job; `--config PRESET` replaces these):\n" +
         train::train_option_table().commented_yaml(train::TrainOptions{}) +
         "\n# The gate (wms gate, the pipeline's train job):\n" +
         gate::gate_option_table().commented_yaml(gate::GatePolicy{}) +
         "#   secondary: {iou: 0.005}                # metric: the largest drop allowed\n";
}

}  // namespace

void add_init(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("init", "create a workspace: wms.yaml, .wms/ and data/ (idempotent)");
  auto a = std::make_shared<InitArgs>();
  app->add_option("DIR", a->dir, "folder to initialise (default: --workspace or the current folder)");
  add_common_options(*app, g);
  out.push_back({app, [a, &g] {
                   auto ws = data::Workspace::init(a->dir.empty() ? g.workspace : a->dir, commented_defaults());
                   if (g.json)
                     print_json({{"workspace", ws.root().string()}, {"config", ws.config_path().string()}});
                   else
                     std::printf("initialised wms workspace in %s\n", ws.root().c_str());
                   return kExitOk;
                 }});
}

}  // namespace wms::cli
