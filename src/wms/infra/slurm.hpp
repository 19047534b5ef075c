// The slurm provider: for teams with a cluster. A lease is a Slurm job that holds an
// allocation, submitted with `sbatch --time` (the scheduler itself ends it at the
// lease's hard deadline, whatever happens to this process; its steps get SIGTERM 30 s
// before, so the worker stops cleanly), named wms-<lease id> and
// commented with its owner (the tag the reaper finds it by, with `squeue`); the worker
// runs in it as a job step (`srun --jobid --overlap`, argv, no shell), whose stdin,
// stdout and stderr srun relays; stop is `scancel`.
//
//   infra:
//     provider: slurm
//     cost_per_hour: 2.5              # what an hour of the allocation is worth
//     slurm:
//       partition: gpu                # default: the cluster's default partition
//       sbatch_args: [--gres=gpu:1, --cpus-per-task=8]   # passed through to sbatch
//       workdir: /shared/wms-worker   # on the nodes (a shared file system, or node-local)
//       wms: /shared/bin/wms          # the wms program on the nodes
//       queue_timeout: 600            # seconds to wait for the job to start, else Unavailable
//       instance_type: slurm gpu node # recorded with the cost
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wms/infra/provider.hpp"
#include "wms/util/config.hpp"

namespace wms::infra {

struct SlurmOptions {
  std::string partition;
  std::vector<std::string> sbatch_args;
  std::string workdir = "wms-worker";
  std::string wms = "wms";
  double queue_timeout = 600;
  std::string instance_type = "slurm job";
};

/// Reads infra.slurm.*; throws InvalidInput naming the key.
SlurmOptions slurm_options(const util::Config& config);

std::unique_ptr<Provider> make_slurm_provider(const SlurmOptions& o);

}  // namespace wms::infra
