// wms: continuous training of a water-meter segmentation model. See README.md.
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "wms/util/allocator.hpp"
#include "wms/util/error.hpp"
#include "wms/version.hpp"

namespace wms::cli {

void add_common_options(CLI::App& app, Globals& g, bool json, bool threads) {
  app.add_option("--workspace,-w", g.workspace, "workspace folder (default: current folder)")->envname("WMS_WORKSPACE");
  if (json) app.add_flag("--json", g.json, "print the result as JSON on stdout");
  if (threads) app.add_option("--threads", g.threads, "worker threads (default: every core)")->envname("WMS_THREADS");
}

void add_device_option(CLI::App& app, train::Device& device) {
  add_names_option(app, "--device", device, train::kDeviceNames, "where the model runs: auto | cpu | cuda");
}

void print_json(const nlohmann::json& j) {
  std::printf("%s\n", j.dump(2).c_str());
}

namespace {

std::string exit_code_footer() {
  std::string out = "Exit codes:";
  for (const auto& e : kExitCodes) out += fmt::format("\n  {:<4} {}", e.code, e.meaning);
  return out;
}

int run(int argc, char** argv) {
  CLI::App app{"wms: continuous training of a water-meter segmentation model"};
  app.set_version_flag("--version", std::string("wms ") + kVersion);
  app.require_subcommand(1);
  app.footer(exit_code_footer());
  Globals g;
  Commands commands;
  add_init(app, g, commands);
  add_synth(app, g, commands);
  add_validate(app, g, commands);
  add_data(app, g, commands);
  add_train(app, g, commands);
  add_eval(app, g, commands);
  add_predict(app, g, commands);
  add_model(app, g, commands);
  add_runs(app, g, commands);
  add_models(app, g, commands);
  add_gate(app, g, commands);
  add_pipeline(app, g, commands);
  add_infra(app, g, commands);
  add_remote(app, g, commands);
  add_worker(app, g, commands);
  add_serve(app, g, commands);
  add_demo(app, g, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  for (auto& c : commands)
    if (c.app->parsed()) return c.run();
  std::fprintf(stderr, "wms: no command given (see wms --help)\n");
  return kExitUsage;
}

}  // namespace
}  // namespace wms::cli

int main(int argc, char** argv) {
  wms::util::configure_allocator();
  try {
    return wms::cli::run(argc, argv);
  } catch (const wms::Error& e) {
    std::fprintf(stderr, "wms: error: %s\n", e.what());
    return wms::exit_code_for(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wms: internal error: %s\n", e.what());
    return 70;
  }
}
