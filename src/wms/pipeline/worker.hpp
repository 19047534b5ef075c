// Training on a leased machine: `wms worker` there, its controller here.
//
// The controller (the pipeline's train job) pushes the candidate dataset version to the
// default remote, then runs `wms worker train` on the instance through the provider
// (ssh: OpenSSH's client). The worker's stdin carries one JSON line (the project's
// wms.yaml and the training config) and then stays open: when it closes (the
// controller was cancelled or died, or ssh lost it) the worker stops. The worker pulls
// the version's objects (md5-checked) into its own workspace, trains, pushes the bundle
// and writes its results on stdout as JSON lines ({"epoch": ...} each epoch, then
// {"result": ...}); its log goes to stderr, which the controller streams into
// jobs/train.log. The controller records each epoch in the registry as it arrives and
// fetches the bundle from the remote (md5-checked): the run is recorded as a local one.
//
// The worker also keeps the host's side of a lease (infra/ssh.hpp): lease-open (checks
// that the host's wms is the controller's version), lease-close (stops the lease's
// worker: SIGTERM, then SIGKILL), leases (for the reaper). A worker stops itself at
// its lease's hard deadline.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "wms/data/workspace.hpp"
#include "wms/infra/lease.hpp"
#include "wms/pipeline/training.hpp"

namespace wms::pipeline {

struct WorkerJob {
  std::string dataset_version;          ///< the candidate; its objects are on the default remote
  std::string workspace_config;         ///< the project's wms.yaml (remote settings; no secrets)
  std::string train_config;             ///< the training config's YAML text ("" with a preset)
  std::string preset;                   ///< or a preset's name
  std::optional<std::string> init_md5;  ///< warm start: production's bundle (on the remote)
  std::string device = "auto";
};

/// A TrackedRequest::trainer that runs the training as `wms worker train` on `instance`.
/// REQUIRES: a default remote holding the job's version (and init bundle). The
/// options' seed is passed on; threads are the worker's. Throws Cancelled (should_stop
/// or the worker was stopped), Unavailable (the worker or ssh failed: its last lines).
Trainer remote_trainer(const data::Workspace& ws, infra::Provider& provider, const infra::Lease& lease,
                       const std::string& worker_dir, WorkerJob job, std::function<void(const std::string&)> log);

// The worker side (src/cli/worker.cpp). Each returns the process exit code.

/// `wms worker lease-open`: records the lease in DIR/leases/ after checking the version.
/// Throws Conflict when another unexpired lease is recorded there, unless `shared` (the
/// lease is a scheduler's job, not the host: Slurm runs several jobs on one node).
int worker_lease_open(const std::string& dir, const std::string& lease, const std::string& owner, double deadline,
                      const std::string& expect_version, bool shared = false);
/// `wms worker lease-close`: stops the lease's worker and removes its record (idempotent).
int worker_lease_close(const std::string& dir, const std::string& lease);
/// `wms worker leases`: the leases on this host, as a JSON array on stdout.
int worker_leases(const std::string& dir);
/// `wms worker train`: see the header comment.
int worker_train(const std::string& dir, const std::string& lease, const std::string& version, std::uint64_t seed);

}  // namespace wms::pipeline
