#include "wms/infra/provider.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"
#include "wms/util/fs.hpp"

namespace wms::infra {
namespace {

// This machine: nothing to start; the lease still guards the run.
class LocalProvider : public Provider {
 public:
  std::string name() const override { return "local"; }
  Instance start(const std::string&) override { return {"local", fmt::format("local-{}", ::getpid()), "localhost"}; }
  void stop(const Instance&) override {}
};

}  // namespace

std::string process_start(int pid) {
  try {
    std::string stat = util::read_file(fmt::format("/proc/{}/stat", pid), 1 << 16);
    auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos) return "";
    std::size_t pos = close + 2;
    for (int field = 3; field < 22; ++field) {  // field 22 is starttime
      pos = stat.find(' ', pos);
      if (pos == std::string::npos) return "";
      ++pos;
    }
    return stat.substr(pos, stat.find(' ', pos) - pos);
  } catch (const Error&) {
    return "";
  }
}

bool process_alive(int pid, const std::string& start) {
  if (pid <= 0 || !(::kill(pid, 0) == 0 || errno == EPERM)) return false;
  return start.empty() || process_start(pid) == start;
}

std::unique_ptr<Provider> make_provider(const data::Workspace& ws) {
  std::string name = ws.config().get_string("infra.provider", "local");
  if (name == "local") return std::make_unique<LocalProvider>();
  throw InvalidInput("{}: infra.provider: '{}' is not available in this wms (providers: local)", ws.config().source(),
                     name);
}

nlohmann::json Lease::to_json() const {
  return {{"provider", instance.provider},
          {"instance_id", instance.id},
          {"address", instance.address},
          {"run_id", run_id},
          {"pid", pid},
          {"pid_start", pid_start},
          {"started", started},
          {"cost_per_hour", cost_per_hour}};
}

Lease Lease::from_json(const nlohmann::json& j) {
  Lease l;
  l.instance = {j.value("provider", ""), j.value("instance_id", ""), j.value("address", "")};
  l.run_id = j.value("run_id", "");
  l.pid = j.value("pid", 0);
  l.pid_start = j.value("pid_start", "");
  l.started = j.value("started", 0.0);
  l.cost_per_hour = j.value("cost_per_hour", 0.0);
  return l;
}

Lease Leases::acquire(Provider& p, const std::string& run_id, double cost_per_hour) {
  util::make_dirs(dir_);
  Lease l;
  l.instance = p.start(run_id);
  l.run_id = run_id;
  l.pid = ::getpid();
  l.pid_start = process_start(l.pid);
  l.started = util::now_seconds();
  l.cost_per_hour = cost_per_hour;
  try {
    util::atomic_write(dir_ / (l.instance.id + ".json"), l.to_json().dump(2) + "\n");
  } catch (...) {
    p.stop(l.instance);  // never hold compute without a lease on disk
    throw;
  }
  util::failpoint("infra.after_lease");
  return l;
}

double Leases::release(Provider& p, const Lease& l) {
  p.stop(l.instance);
  std::error_code ec;
  fs::remove(dir_ / (l.instance.id + ".json"), ec);
  util::fsync_dir(dir_);
  return (util::now_seconds() - l.started) / 3600.0 * l.cost_per_hour;
}

std::vector<Lease> Leases::list() const {
  std::vector<Lease> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    auto j = nlohmann::json::parse(util::read_file(it->path(), 1 << 20), nullptr, false);
    if (j.is_object()) out.push_back(Lease::from_json(j));
  }
  return out;
}

std::vector<Lease> Leases::reap(Provider& p) {
  std::vector<Lease> reaped;
  for (const auto& l : list())
    if (!process_alive(l.pid, l.pid_start)) {
      release(p, l);
      reaped.push_back(l);
    }
  return reaped;
}

}  // namespace wms::infra
