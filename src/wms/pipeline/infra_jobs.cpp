// start-infra and stop-infra: a lease on compute, recorded before the machine is asked
// for, and released always (also after a failure or Ctrl-C, and by the next run after
// kill -9). The cost (held seconds x infra.cost_per_hour) is recorded with the run.
#include <fmt/format.h>

#include "wms/pipeline/runner.hpp"
#include "wms/util/clock.hpp"

namespace wms::pipeline {

void Runner::start_infra() {
  const JobId job = JobId::kStartInfra;
  begin(job);
  infra::LeaseTerms terms{settings.lease_minutes * 60, settings.max_lease_minutes * 60, settings.cost_per_hour};
  lease = leases.acquire(*provider, st.run_id, terms);
  st.infra = InfraOutputs{lease->instance.id, lease->instance.address, lease->instance.provider};
  log(job, fmt::format("lease {}: {} {} at {} ({}), expires {}, hard deadline {}", lease->id, lease->instance.provider,
                       lease->instance.id, lease->instance.address, lease->instance.type,
                       util::iso_time(lease->expires), util::iso_time(lease->hard_deadline)));
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
  st.stop = StopOutputs{lease->instance.id, lease->instance.provider, lease->instance.type, cost, seconds};
  reg.set_tag(st.run_id, "infra.provider", lease->instance.provider);
  reg.set_tag(st.run_id, "infra.instance_type", lease->instance.type);
  reg.log_metrics(st.run_id, 0, {{"infra_held_seconds", seconds}, {"infra_cost", cost}});
  log(job, fmt::format("released {} {} after {:.0f}s (cost {:.4f} at {}/hour)", lease->instance.provider,
                       lease->instance.id, seconds, cost, lease->cost_per_hour));
  lease.reset();
  end(job, JobStatus::kSuccess);
}

}  // namespace wms::pipeline
