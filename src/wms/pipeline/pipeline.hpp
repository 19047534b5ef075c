// The continuous-training run: one command from a batch of new photos to a promoted
// model, with the original workflow's jobs, outputs and conditions:
//
//   merge-and-validate  validation_passed, total_images, new_images, existing_images, duplicate_images,
//                       candidate_version   (total = existing, the dataset before the batch, + new)
//   start-infra         instance_id, address                      (if validation passed and there is new data)
//   train               improved, dice, iou, run_id, model_version, attempts, decision_id
//   stop-infra          cost                                      (ALWAYS, also after failure or Ctrl-C)
//   promote             dataset_version, production              (only if improved)
//   notify              deliveries                                (always)
//
// Train BEFORE accepting: the batch becomes a candidate dataset version; only an
// improved model moves the dataset head and the production alias. Otherwise the batch
// is kept as a rejected submission (.wms/submissions/<run>.json). A skipped job is
// recorded as skipped with its reason.
//
// State: .wms/runs/<run-id>/pipeline.json (rewritten atomically after every job
// transition), one log per job (jobs/<job>.log), and a registry run (kind pipeline)
// whose children are the training runs. One pipeline at a time per workspace (the
// workspace lock); a second one waits up to `wait_seconds`, then is refused clearly.
// A run killed at any point leaves the head and production as they were; its lease is
// reaped by the next run, and `resume` continues from the first unfinished job.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "wms/data/validate.hpp"
#include "wms/data/workspace.hpp"
#include "wms/pipeline/state.hpp"
#include "wms/train/runtime.hpp"
#include "wms/util/options.hpp"

namespace wms::pipeline {

/// 0 improved, 10 not improved, 1 invalid data, 130 cancelled; a failure exits with its
/// error's own code (exit_code_for: 7 a full disk, 4 a missing file, ...), 70 only for a
/// bug. `error_code` is State::error_code.
int outcome_exit_code(Outcome o, const std::string& error_code = "");

/// git.mode: kAuto (the default) publishes when the workspace IS a repository's top
/// level; kOn also inside a repository (the original's WMS/ layout); kOff never.
enum class GitMode { kAuto, kOn, kOff };
extern const util::Names<GitMode> kGitModeNames;

/// The pipeline's keys of wms.yaml.
struct Settings {
  int attempts = 3;         ///< pipeline.attempts: trainings per run, each gated
  bool warm_start = false;  ///< pipeline.warm_start: start from production's weights
  GitMode git_mode = GitMode::kAuto;
  double cost_per_hour = 0;        ///< infra.cost_per_hour: for the lease's cost estimate
  double lease_minutes = 60;       ///< infra.lease_minutes: a lease's term, renewed before each attempt
  double max_lease_minutes = 240;  ///< infra.max_lease_minutes: its hard deadline after the start
  int machines = 1;                ///< infra.machines: leased at once; attempts run in parallel, one per machine
};
const util::OptionTable<Settings>& settings_option_table();

struct Options {
  data::BatchSource batch;
  std::string config_ref;  ///< --config: a file or preset; "" = the workspace's wms.yaml
  int attempts = 0;        ///< 0: Settings::attempts (pipeline.attempts)
  unsigned threads = 0;
  train::Device device = train::Device::kAuto;
  double wait_seconds = 0;  ///< for another pipeline to finish
  std::function<bool()> should_stop;
  std::function<void(const std::string&)> log;  ///< one line at a time (stderr for the CLI)
};

struct Result {
  State state;
  Outcome outcome = Outcome::kFailed;
};

Result run(const data::Workspace& ws, const Options& options);
/// Continues a run that was interrupted (crash, kill -9) from its first unfinished job.
Result resume(const data::Workspace& ws, const std::string& run_id, const Options& options);
/// The state of a run (throws NotFound).
State load_state(const data::Workspace& ws, const std::string& run_id);

/// The log files of a run folder: jobs/<job>.log for one job, else run.log (when
/// there is one) then every job's log by name. Throws NotFound naming the file or the
/// folder when there is none. Works for any run kind (train runs have no jobs/).
std::vector<std::filesystem::path> run_logs(const std::filesystem::path& run_dir, const std::string& job = "");

/// Rejected submissions (batches that did not improve the model), newest first.
std::vector<nlohmann::json> submissions(const data::Workspace& ws);

}  // namespace wms::pipeline
