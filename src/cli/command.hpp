// The wms command table: each command file registers its subcommand and a run
// function; main.cpp parses, runs the chosen one and maps errors to exit codes.
// Commands stay thin: parse flags, call one libwms function, render the result.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace wms::cli {

/// Options every command shares.
struct Globals {
  std::string workspace = ".";  ///< --workspace DIR (env WMS_WORKSPACE)
  bool json = false;            ///< --json: machine-readable output on stdout
  unsigned threads = 0;         ///< --threads N (env WMS_THREADS); 0: every core
};

struct Command {
  CLI::App* app;
  std::function<int()> run;  ///< returns the exit code
};
using Commands = std::vector<Command>;

/// Exit codes (also printed by `wms --help`).
inline constexpr int kExitOk = 0;
inline constexpr int kExitDataInvalid = 1;  ///< validation found errors; nothing changed
inline constexpr int kExitUsage = 2;

void add_init(CLI::App& root, Globals& g, Commands& out);
void add_synth(CLI::App& root, Globals& g, Commands& out);
void add_validate(CLI::App& root, Globals& g, Commands& out);
void add_data(CLI::App& root, Globals& g, Commands& out);
void add_demo(CLI::App& root, Globals& g, Commands& out);
void add_train(CLI::App& root, Globals& g, Commands& out);
void add_eval(CLI::App& root, Globals& g, Commands& out);
void add_predict(CLI::App& root, Globals& g, Commands& out);
void add_model(CLI::App& root, Globals& g, Commands& out);
void add_runs(CLI::App& root, Globals& g, Commands& out);
void add_models(CLI::App& root, Globals& g, Commands& out);
void add_gate(CLI::App& root, Globals& g, Commands& out);
void add_pipeline(CLI::App& root, Globals& g, Commands& out);
void add_infra(CLI::App& root, Globals& g, Commands& out);
void add_serve(CLI::App& root, Globals& g, Commands& out);

/// Adds --workspace/--json/--threads to a (sub)command.
void add_common_options(CLI::App& app, Globals& g, bool json = true, bool threads = false);

/// Prints JSON to stdout (pretty, one document).
void print_json(const nlohmann::json& j);

}  // namespace wms::cli
