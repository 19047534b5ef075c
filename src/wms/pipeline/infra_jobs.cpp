// start-infra and stop-infra: leases on compute (one per machine, infra.machines),
// each recorded before its machine is asked for, and released always (also after a
// failure or Ctrl-C, and by the next run after kill -9). The cost (held seconds x
// infra.cost_per_hour, per machine) is recorded with the run.
#include <fmt/format.h>

#include <algorithm>

#include "wms/pipeline/runner.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"

namespace wms::pipeline {

void Runner::start_infra() {
  const JobId job = JobId::kStartInfra;
  begin(job);
  infra::LeaseTerms terms{settings.lease_minutes * 60, settings.max_lease_minutes * 60, settings.cost_per_hour};
  // More machines than attempts would sit idle.
  const int wanted = std::min(settings.machines, settings.attempts);
  for (int m = 0; m < wanted; ++m) {
    try {
      held.push_back(leases.acquire(*provider, st.run_id, terms));
    } catch (const Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      if (held.empty()) throw;  // not even one machine: the job fails (stop-infra releases nothing)
      log(job, fmt::format("only {} of {} machines could be leased ({}); the attempts share them", held.size(),
                           wanted, e.what()));
      break;
    }
    const infra::Lease& l = held.back();
    log(job, fmt::format("lease {}: {} {} at {} ({}), expires {}, hard deadline {}", l.id, l.instance.provider,
                         l.instance.id, l.instance.address, l.instance.type, util::iso_time(l.expires),
                         util::iso_time(l.hard_deadline)));
  }
  const infra::Lease& first = held.front();
  st.infra = InfraOutputs{first.instance.id, first.instance.address, first.instance.provider, {}};
  for (const auto& l : held) st.infra->instances.push_back(l.instance.id);
  end(job, JobStatus::kSuccess);
}

void Runner::stop_infra() {
  const JobId job = JobId::kStopInfra;
  if (held.empty()) {
    // Resumed run, or start-infra never ran: release whatever this run still holds.
    for (const auto& l : leases.list())
      if (l.run_id == st.run_id) held.push_back(l);
  }
  if (held.empty()) {
    skip(job, "no compute was started");
    return;
  }
  begin(job);
  StopOutputs out{held.front().instance.id, held.front().instance.provider, held.front().instance.type, 0, 0,
                  static_cast<int>(held.size())};
  // Each machine is released even when another could not be: those stay in `held`
  // (and their records on disk, for the reaper), and the first error is rethrown.
  std::vector<infra::Lease> kept;
  std::exception_ptr first_error;
  for (const auto& l : held) {
    try {
      double cost = leases.release(*provider, l);
      double seconds = util::now_seconds() - l.started;
      out.cost += cost;
      out.seconds += seconds;
      log(job, fmt::format("released {} {} after {:.0f}s (cost {:.4f} at {}/hour)", l.instance.provider,
                           l.instance.id, seconds, cost, l.cost_per_hour));
    } catch (...) {
      kept.push_back(l);
      if (!first_error) first_error = std::current_exception();
    }
  }
  held = kept;
  if (first_error) std::rethrow_exception(first_error);
  st.stop = out;
  reg.set_tag(st.run_id, "infra.provider", out.provider);
  reg.set_tag(st.run_id, "infra.instance_type", out.instance_type);
  reg.log_metrics(st.run_id, 0, {{"infra_held_seconds", out.seconds}, {"infra_cost", out.cost}});
  end(job, JobStatus::kSuccess);
}

}  // namespace wms::pipeline
