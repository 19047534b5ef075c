// The wms command table: each command file registers its subcommand and a run
// function; main.cpp parses, runs the chosen one and maps errors to exit codes.
// Commands stay thin: parse flags, call one libwms function, render the result.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "wms/train/runtime.hpp"
#include "wms/util/options.hpp"

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

/// Exit codes of the front end; errors map through wms::exit_code_for (util/error.hpp).
inline constexpr int kExitOk = 0;
inline constexpr int kExitDataInvalid = 1;  ///< validation found errors; nothing changed
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotImproved = 10;  ///< gate/pipeline: the candidate would not replace production

/// The one table of exit codes: `wms --help` prints it; README.md repeats it.
struct ExitCodeDoc {
  int code;
  const char* meaning;
};
inline constexpr ExitCodeDoc kExitCodes[] = {
    {kExitOk, "success"},
    {kExitDataInvalid, "the data is invalid (validation errors); nothing was changed"},
    {kExitUsage, "usage error (unknown command or option)"},
    {3, "invalid input (a file or value breaks a rule; the message names it)"},
    {4, "not found"},
    {5, "conflict (busy workspace, name clash)"},
    {6, "corrupt stored data"},
    {7, "I/O error (disk full, permission)"},
    {8, "unavailable (a server or the network did not answer; try again)"},
    {9, "denied (a server refused the credentials or the permission)"},
    {kExitNotImproved, "gate, pipeline: the candidate would not replace production"},
    {70, "internal error (a bug: please report it); a failed pipeline exits with its error's code"},
    {130, "interrupted"},
};

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
void add_remote(CLI::App& root, Globals& g, Commands& out);
void add_worker(CLI::App& root, Globals& g, Commands& out);

/// Adds --workspace/--json/--threads to a (sub)command.
void add_common_options(CLI::App& app, Globals& g, bool json = true, bool threads = false);

/// Adds an option whose value is a word of a fixed vocabulary (util::Names): CLI11
/// accepts only those words and lists them in the help.
template <class E>
CLI::Option* add_names_option(CLI::App& app, const std::string& flags, E& value, const util::Names<E>& names,
                              const std::string& help) {
  std::string list;
  for (const auto& [v, n] : names.table) list += (list.empty() ? "" : ",") + std::string(n);
  CLI::Validator known(
      [names](std::string& word) -> std::string {
        return names.find(word) ? "" : "'" + word + "' is not one of " + names.choices();
      },
      "", "");
  return app
      .add_option_function<std::string>(
          flags, [&value, names](const std::string& word) { value = *names.find(word); }, help)
      ->check(known)
      ->type_name("{" + list + "}")
      ->default_str(names.name(value));
}

/// Adds --device (auto | cpu | cuda).
void add_device_option(CLI::App& app, train::Device& device);

/// Prints JSON to stdout (pretty, one document).
void print_json(const nlohmann::json& j);

}  // namespace wms::cli
