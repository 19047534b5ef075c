#include "cli/command.hpp"
#include "wms/data/workspace.hpp"

namespace wms::cli {

void add_init(CLI::App& root, Globals& g, Commands& out) {
  auto* app = root.add_subcommand("init", "create a workspace: wms.yaml, .wms/ and data/ (idempotent)");
  static std::string dir;
  app->add_option("DIR", dir, "folder to initialise (default: --workspace or the current folder)");
  add_common_options(*app, g);
  out.push_back({app, [&g] {
    auto ws = data::Workspace::init(dir.empty() ? g.workspace : dir);
    if (g.json) print_json({{"workspace", ws.root().string()}, {"config", ws.config_path().string()}});
    else std::printf("initialised wms workspace in %s\n", ws.root().c_str());
    return kExitOk;
  }});
}

}  // namespace wms::cli
