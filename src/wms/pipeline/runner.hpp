// PRIVATE to src/wms/pipeline: the machinery of one run, shared by the job files.
//
//   runner.cpp        the run itself (execute: which job runs when), bookkeeping, run/resume
//   validate_job.cpp  merge-and-validate
//   infra_jobs.cpp    start-infra, stop-infra
//   train_job.cpp     train: attempts, each gated against production
//   promote_job.cpp   promote: accept the data, move production, publish to git
//   notify_job.cpp    notify, and the rejected-submission record
//
// Every job method begins and ends its job in `st` (saved to pipeline.json at each
// transition) and writes its typed outputs there. Not thread-safe: one run, one thread;
// only log() may be called from the train job's attempt threads (train_job.cpp).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "wms/data/dataset.hpp"
#include "wms/infra/lease.hpp"
#include "wms/pipeline/pipeline.hpp"
#include "wms/pipeline/worker.hpp"
#include "wms/registry/registry.hpp"
#include "wms/util/config.hpp"
#include "wms/vcs/git.hpp"
#include "wms/vcs/hosting.hpp"

namespace wms::pipeline {

namespace fs = std::filesystem;

struct Runner {
  const data::Workspace& ws;
  Options o;
  Settings settings;  ///< from the workspace's wms.yaml
  State st;
  fs::path dir;  ///< .wms/runs/<run-id>
  registry::Registry reg;
  std::unique_ptr<infra::Provider> provider;
  infra::Leases leases;
  std::vector<infra::Lease> held;  ///< start-infra's leases, one per machine (infra.machines)
  std::optional<vcs::GitRepo> git;             ///< git mode when the workspace is inside a repository
  std::optional<vcs::HostingOptions> hosting;  ///< git mode with a hosted pull request
  std::mutex log_mutex;

  Runner(const data::Workspace& w, Options opts, State s);

  // Bookkeeping (runner.cpp).
  void save();
  /// Appends to the job's log (and o.log). Thread-safe.
  void log(JobId job, const std::string& line);
  void begin(JobId job);
  void end(JobId job, JobStatus status, const std::string& reason = "");
  void skip(JobId job, const std::string& reason);
  /// Ends every running job with `status` (after an exception).
  void end_running(JobStatus status, const std::string& reason);
  util::Config train_config() const;
  Outcome execute();

  // The jobs, one file each.
  void merge_and_validate();
  void start_infra();
  void stop_infra();
  void train();
  /// What a worker on the leased machine needs; pushes the data it takes (train_job.cpp).
  WorkerJob worker_job(std::optional<int> champion_version, bool warm);
  void promote();
  void notify(Outcome outcome);
  void record_submission();

  // Publishing to git (promote_job.cpp; also the data branch of merge-and-validate).
  std::string repo_path(const std::string& workspace_relative) const;
  std::map<std::string, std::string> git_files(const data::Version& v, bool with_production) const;
  void open_pull_request(const data::Version& v);
  /// The original's pull-request text: a title line, a metrics table, the decision.
  std::string pr_text(bool merged) const;
};

}  // namespace wms::pipeline
