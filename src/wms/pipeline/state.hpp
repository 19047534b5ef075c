// The state of one pipeline run: its jobs (enums, in run order), their statuses and
// times, and each job's typed outputs, as .wms/runs/<run-id>/pipeline.json holds them.
//
// Job names, statuses and output names are the original GitHub Actions workflow's
// (merge-and-validate's validation_passed, total_images, ...): they are written to
// pipeline.json, `wms pipeline show --json` and webhooks, so never rename one. Each
// outputs struct is serialised in one place (state.cpp); a job that has not produced
// its outputs shows `{}`.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wms/pipeline/notify.hpp"

namespace wms::pipeline {

/// The jobs, in the order they run. Never renumber (resume relies on the order).
enum class JobId { kMergeAndValidate, kStartInfra, kTrain, kStopInfra, kPromote, kNotify };
inline constexpr std::array<JobId, 6> kJobs = {JobId::kMergeAndValidate, JobId::kStartInfra, JobId::kTrain,
                                               JobId::kStopInfra,        JobId::kPromote,    JobId::kNotify};
/// "merge-and-validate", "start-infra", "train", "stop-infra", "promote", "notify".
std::string_view job_name(JobId id);

enum class JobStatus { kQueued, kRunning, kSuccess, kFailure, kSkipped, kCancelled };
/// "queued", "running", "success", "failure", "skipped", "cancelled".
std::string_view status_name(JobStatus s);

/// Never renumber; names are written to pipeline.json and JSON output.
enum class Outcome { kImproved = 0, kNotImproved = 1, kInvalid = 2, kFailed = 3, kCancelled = 4 };
/// "improved", "not_improved", "invalid", "failed", "cancelled".
std::string outcome_name(Outcome o);

/// A pull or push of the run's data and model against the default remote.
struct SyncOutputs {
  std::string remote;             ///< its name
  std::uint64_t transferred = 0;  ///< objects moved
  std::uint64_t present = 0;      ///< already there
  std::uint64_t bytes = 0;
  double seconds = 0;
};

struct ValidateOutputs {  // merge-and-validate
  bool validation_passed = false;
  std::size_t total_images = 0;  ///< existing + new
  std::size_t new_images = 0;
  std::size_t existing_images = 0;   ///< in the dataset before the batch
  std::size_t duplicate_images = 0;  ///< pairs of the batch kept once
  std::size_t errors = 0, warnings = 0;
  std::optional<std::string> base_version, candidate_version;
  std::string branch, commit;       ///< git mode: the batch's data branch and commit
  std::optional<SyncOutputs> pull;  ///< the head's objects fetched first (a default remote is set)
};

struct InfraOutputs {  // start-infra
  std::string instance_id, address, provider;  ///< the first machine's
  std::vector<std::string> instances;          ///< every leased machine's id (infra.machines)
};

struct TrainOutputs {  // train: the best attempt
  bool improved = false;
  double dice = 0, iou = 0;  ///< test split, at the model's input size
  std::string run_id;
  int model_version = 0;
  int attempts = 0;
  std::int64_t decision_id = 0;
  std::string reason;
  std::optional<int> champion_version;
  std::optional<double> champion_dice;
};

struct StopOutputs {  // stop-infra
  std::string instance_id;
  std::string provider, instance_type;
  double cost = 0;     ///< in the currency of infra.cost_per_hour, summed over the machines
  double seconds = 0;  ///< held seconds, summed over the machines (machine-seconds)
  int machines = 1;    ///< how many were leased
};

struct PromoteOutputs {  // promote
  std::string dataset_version;
  int production = 0;
  std::string merge_commit, branch;  ///< git mode, local squash merge
  std::optional<int> pr_number;      ///< git mode, hosted pull request
  std::string pr_url, pr_merge, pr_note, pr_error;
  std::optional<SyncOutputs> push;  ///< the accepted version and production bundle, before the head moved
};

struct NotifyOutputs {  // notify
  std::string event;    ///< the outcome's name
  std::vector<Delivery> deliveries;
  int failed = 0;
};

struct Job {
  JobId id = JobId::kMergeAndValidate;
  JobStatus status = JobStatus::kQueued;
  double started = 0, ended = 0;  ///< unix seconds
  std::string reason;             ///< why skipped / failed
};

struct State {
  std::string run_id;
  std::string images_dir, masks_dir;  ///< the batch
  std::string config_ref;             ///< training config (file or preset), "" = wms.yaml
  std::optional<Outcome> outcome;     ///< none while running
  std::string error;
  std::string error_code;  ///< the failure's ErrorCode name ("IO", "NOT_FOUND", ...); "" when none
  double started = 0, ended = 0;
  std::array<Job, kJobs.size()> jobs = {Job{JobId::kMergeAndValidate}, Job{JobId::kStartInfra}, Job{JobId::kTrain},
                                        Job{JobId::kStopInfra},        Job{JobId::kPromote},    Job{JobId::kNotify}};
  std::optional<ValidateOutputs> validate;
  std::optional<InfraOutputs> infra;
  std::optional<TrainOutputs> train;
  std::optional<StopOutputs> stop;
  std::optional<PromoteOutputs> promote;
  std::optional<NotifyOutputs> notify;

  Job& job(JobId id) { return jobs[static_cast<std::size_t>(id)]; }
  const Job& job(JobId id) const { return jobs[static_cast<std::size_t>(id)]; }
  /// success or skipped: a resumed run does not run it again.
  bool done(JobId id) const;
  /// A job's outputs as pipeline.json writes them ({} when it produced none).
  nlohmann::json outputs_json(JobId id) const;
  nlohmann::json to_json() const;
  /// Throws nlohmann::json::exception on a document that is not a pipeline state.
  static State from_json(const nlohmann::json& j);
};

}  // namespace wms::pipeline
