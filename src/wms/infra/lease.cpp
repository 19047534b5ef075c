#include "wms/infra/lease.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <map>

#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"
#include "wms/util/fs.hpp"

namespace wms::infra {
namespace {

std::string host_name() {
  char buf[256] = {};
  return gethostname(buf, sizeof buf - 1) == 0 ? buf : "localhost";
}

// /proc/<pid>/stat ("" when there is no such process). Read to its end: /proc files
// report a size of 0, so util::read_file (which reads st_size bytes) sees nothing.
std::string proc_stat(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

constexpr const char* kUnreadable = "unreadable.json";  // machine -> since when its state can't be read

}  // namespace

std::string process_start(int pid) {
  std::string stat = proc_stat(pid);
  auto close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return "";
  std::size_t pos = close + 2;
  for (int field = 3; field < 22; ++field) {  // field 22 is starttime
    pos = stat.find(' ', pos);
    if (pos == std::string::npos) return "";
    ++pos;
  }
  return stat.substr(pos, stat.find(' ', pos) - pos);
}

bool process_alive(int pid, const std::string& start) {
  if (pid <= 0 || !(::kill(pid, 0) == 0 || errno == EPERM)) return false;
  // A zombie has died: nobody reaped it yet (in a container whose init never does).
  std::string stat = proc_stat(pid);
  auto close = stat.rfind(')');
  if (close != std::string::npos && close + 2 < stat.size() && (stat[close + 2] == 'Z' || stat[close + 2] == 'X'))
    return false;
  return start.empty() || process_start(pid) == start;
}

nlohmann::json Lease::to_json() const {
  return {{"id", id},
          {"owner", owner},
          {"run_id", run_id},
          {"provider", provider},
          {"instance_id", instance.id},
          {"address", instance.address},
          {"instance_type", instance.type},
          {"pid", pid},
          {"pid_start", pid_start},
          {"started", started},
          {"expires", expires},
          {"hard_deadline", hard_deadline},
          {"cost_per_hour", cost_per_hour},
          {"renewals", renewals}};
}

Lease Lease::from_json(const nlohmann::json& j) {
  Lease l;
  l.id = j.value("id", "");
  l.owner = j.value("owner", "");
  l.run_id = j.value("run_id", "");
  l.provider = j.value("provider", "");
  l.instance = {l.provider, j.value("instance_id", ""), j.value("address", ""), j.value("instance_type", "")};
  l.pid = j.value("pid", 0);
  l.pid_start = j.value("pid_start", "");
  l.started = j.value("started", 0.0);
  l.expires = j.value("expires", 0.0);
  l.hard_deadline = j.value("hard_deadline", 0.0);
  l.cost_per_hour = j.value("cost_per_hour", 0.0);
  if (j.contains("renewals") && j["renewals"].is_array()) l.renewals = j["renewals"];
  if (l.id.empty()) l.id = l.instance.id;  // written by wms before leases had their own ids
  return l;
}

nlohmann::json Reaped::to_json() const {
  return {{"lease", lease_id},
          {"run_id", run_id},
          {"provider", instance.provider},
          {"instance_id", instance.id},
          {"reason", reason}};
}

Leases::Leases(const data::Workspace& ws)
    : dir_(ws.leases_dir()), owner_(host_name() + ":" + fs::absolute(ws.root()).lexically_normal().string()) {}

void Leases::write(const Lease& l) const {
  util::make_dirs(dir_);
  util::atomic_write(dir_ / (l.id + ".json"), l.to_json().dump(2) + "\n");
}

Lease Leases::acquire(Provider& p, const std::string& run_id, const LeaseTerms& terms) {
  Lease l;
  int n = 1;
  do l.id = fmt::format("{}-{}", run_id, n++);
  while (find(l.id));
  l.owner = owner_;
  l.run_id = run_id;
  l.provider = p.name();
  l.instance.provider = p.name();
  l.pid = ::getpid();
  l.pid_start = process_start(l.pid);
  l.started = util::now_seconds();
  l.hard_deadline = l.started + terms.hard_seconds;
  l.expires = std::min(l.started + terms.soft_seconds, l.hard_deadline);
  l.cost_per_hour = terms.cost_per_hour;
  write(l);  // before the provider is asked: a crash from here on leaves a record to reap
  util::failpoint("infra.before_start");
  try {
    l.instance = p.start(l.id, l.owner, l.hard_deadline);
    util::failpoint("infra.after_start");
    write(l);
  } catch (...) {
    try {
      if (!l.instance.id.empty()) p.stop(l.instance, l.id);
      for (const auto& m : p.find())
        if (m.lease_id == l.id) p.stop(m.instance, l.id);
      std::error_code ec;
      fs::remove(dir_ / (l.id + ".json"), ec);
    } catch (...) {  // the record stays: the reaper finishes the job
    }
    throw;
  }
  util::failpoint("infra.after_lease");
  return l;
}

void Leases::renew(Lease& l, const std::string& reason) {
  double now = util::now_seconds();
  if (now >= l.hard_deadline)
    throw Conflict("lease {} passed its hard deadline ({}); it cannot be renewed", l.id,
                   util::iso_time(l.hard_deadline));
  double soft = l.renewals.empty() ? l.expires - l.started : l.renewals.back().value("term", l.expires - l.started);
  l.expires = std::min(now + soft, l.hard_deadline);
  l.renewals.push_back({{"time", now}, {"expires", l.expires}, {"term", soft}, {"reason", reason}});
  write(l);
}

double Leases::release(Provider& p, const Lease& l) {
  if (!l.instance.id.empty()) p.stop(l.instance, l.id);
  std::error_code ec;
  fs::remove(dir_ / (l.id + ".json"), ec);
  util::fsync_dir(dir_);
  return l.cost(util::now_seconds());
}

std::vector<Lease> Leases::list() const {
  std::vector<Lease> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json" || it->path().filename() == kUnreadable) continue;
    auto j = nlohmann::json::parse(util::read_file(it->path(), 1 << 20), nullptr, false);
    if (j.is_object()) out.push_back(Lease::from_json(j));
  }
  return out;
}

std::optional<Lease> Leases::find(const std::string& lease_id) const {
  std::error_code ec;
  fs::path f = dir_ / (lease_id + ".json");
  if (!fs::exists(f, ec)) return std::nullopt;
  auto j = nlohmann::json::parse(util::read_file(f, 1 << 20), nullptr, false);
  if (!j.is_object()) throw Corrupt("{}: not a lease record", f.string());
  return Lease::from_json(j);
}

std::vector<Reaped> Leases::reap(Provider& p, double grace_seconds) {
  double now = util::now_seconds();
  std::vector<Reaped> out;
  std::map<std::string, Lease> held;  // live leases of this provider
  for (const auto& l : list()) {
    if (l.provider != p.name()) continue;
    std::string why = !process_alive(l.pid, l.pid_start) ? "its holder (pid " + std::to_string(l.pid) + ") died"
                      : now > l.hard_deadline            ? "past its hard deadline"
                      : now > l.expires                  ? "expired without renewal"
                                                         : "";
    if (why.empty()) {
      held[l.id] = l;
      continue;
    }
    release(p, l);
    out.push_back({l.id, l.run_id, l.instance, why});
  }
  // Machines by their tags: what no live lease holds is stopped.
  fs::path unreadable_file = dir_ / kUnreadable;
  std::error_code ec;
  nlohmann::json unreadable = fs::exists(unreadable_file, ec)
                                  ? nlohmann::json::parse(util::read_file(unreadable_file), nullptr, false)
                                  : nlohmann::json::object();
  if (!unreadable.is_object()) unreadable = nlohmann::json::object();
  nlohmann::json still = nlohmann::json::object();
  for (const auto& m : p.find()) {
    if (!m.owner.empty() && m.owner != owner_) continue;  // another controller's
    if (held.count(m.lease_id)) continue;
    bool already = false;
    for (const auto& r : out) already |= r.instance.id == m.instance.id && r.lease_id == m.lease_id;
    if (already) continue;
    std::string why;
    if (m.state.empty()) {
      std::string key = m.instance.id;
      double since = unreadable.value(key, now);
      still[key] = since;
      if (now - since < grace_seconds) continue;
      why = fmt::format("its state could not be read for {:.0f} s", now - since);
      still.erase(key);
    } else if (m.state == "stopped" || m.state == "terminated" || m.state == "shutting-down") {
      continue;
    } else {
      why = "no live lease holds it (tag " + m.lease_id + ")";
    }
    p.stop(m.instance, m.lease_id);
    out.push_back({m.lease_id, "", m.instance, why});
  }
  util::make_dirs(dir_);
  util::atomic_write(unreadable_file, still.dump() + "\n");
  return out;
}

}  // namespace wms::infra
