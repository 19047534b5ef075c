// start-infra and stop-infra: a lease on compute, recorded before the machine is asked
// for, and released always (also after a failure or Ctrl-C, and by the next run after
// kill -9).
#include <fmt/format.h>

#include "wms/pipeline/runner.hpp"
#include "wms/util/clock.hpp"

namespace wms::pipeline {

void Runner::start_infra() {
  const JobId job = JobId::kStartInfra;
  begin(job);
  lease = leases.acquire(*provider, st.run_id, settings.cost_per_hour);
  st.infra = InfraOutputs{lease->instance.id, lease->instance.address, lease->instance.provider};
  log(job,
      fmt::format("instance {} at {} ({})", lease->instance.id, lease->instance.address, lease->instance.provider));
  end(job, JobStatus::kSuccess);
}

void Runner::stop_infra() {
  const JobId job = JobId::kStopInfra;
  if (!lease) {
    // Resumed run, or start-infra never ran: release whatever this run still holds.
    for (const auto& l : leases.list())
      if (l.run_id == st.run_id) lease = l;
  }
  if (!lease) {
    skip(job, "no compute was started");
    return;
  }
  begin(job);
  double cost = leases.release(*provider, *lease);
  double seconds = util::now_seconds() - lease->started;
  st.stop = StopOutputs{lease->instance.id, cost, seconds};
  log(job, fmt::format("released {} after {:.0f}s (cost {:.4f})", lease->instance.id, seconds, cost));
  lease.reset();
  end(job, JobStatus::kSuccess);
}

}  // namespace wms::pipeline
