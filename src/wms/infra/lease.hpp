// Leases on compute: the record that makes a machine impossible to leak.
//
// A lease is written (durably, .wms/leases/<lease id>.json) BEFORE the provider is
// asked for a machine, with its owner, run, holder process, start, soft expiry, hard
// deadline and price; the provider's id is added once known. Releasing stops the
// machine and only then removes the record. Renewals are explicit, logged in the
// record, and capped by the hard deadline. The reaper (`wms infra reap`, and every
// pipeline start) asks the provider for the machines that carry a lease tag and stops
// each one whose lease is gone, expired, or held by a process that died; a machine
// whose state cannot be read is stopped once it has been unreadable past a grace
// period; a machine whose lease is held by a live process inside its expiry is never
// stopped. Machines tagged by another owner (another controller) are left alone.
//
// Thread safety: one Leases per thread; the files are written atomically, so readers in
// other processes see whole records.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "wms/data/workspace.hpp"
#include "wms/infra/provider.hpp"

namespace wms::infra {

namespace fs = std::filesystem;

struct LeaseTerms {
  double soft_seconds = 3600;   ///< expiry after start and after each renewal
  double hard_seconds = 14400;  ///< never held past start + this
  double cost_per_hour = 0;     ///< infra.cost_per_hour, in the user's currency
};

struct Lease {
  std::string id;     ///< "<run id>-<n>": the tag its machine carries
  std::string owner;  ///< "<host>:<workspace path>": whose reaper may stop it
  std::string run_id;
  std::string provider;
  Instance instance;  ///< id empty until the provider answered
  int pid = 0;        ///< the process that holds it
  std::string pid_start;
  double started = 0, expires = 0, hard_deadline = 0;  ///< unix seconds
  double cost_per_hour = 0;
  nlohmann::json renewals = nlohmann::json::array();  ///< {time, expires, reason}
  /// Seconds held until `now` (or until release), and what that cost.
  double held_seconds(double now) const { return now - started; }
  double cost(double now) const { return held_seconds(now) / 3600.0 * cost_per_hour; }
  nlohmann::json to_json() const;
  static Lease from_json(const nlohmann::json& j);
};

/// What reap() did with one lease or machine.
struct Reaped {
  std::string lease_id, run_id;
  Instance instance;
  std::string reason;  ///< "holder died", "lease expired", "no lease", "state unreadable for 310 s"
  nlohmann::json to_json() const;
};

class Leases {
 public:
  explicit Leases(const data::Workspace& ws);
  /// Writes the lease, then asks the provider for its machine and records it. If the
  /// provider fails, whatever it may have started under the tag is stopped and the
  /// record removed; the provider's error is rethrown.
  Lease acquire(Provider& p, const std::string& run_id, const LeaseTerms& terms);
  /// Extends the expiry by the soft term (capped by the hard deadline) and logs why.
  /// Throws Conflict when the hard deadline has passed.
  void renew(Lease& lease, const std::string& reason);
  /// Stops the machine, then removes the record. Returns the cost of the time held.
  /// Throws what the provider threw (the record stays for the reaper).
  double release(Provider& p, const Lease& lease);
  std::vector<Lease> list() const;
  std::optional<Lease> find(const std::string& lease_id) const;
  /// See the header comment. `grace_seconds`: how long a machine's state may stay
  /// unreadable before it is treated as leaked.
  std::vector<Reaped> reap(Provider& p, double grace_seconds = 300);
  /// The owner tag of this workspace's leases.
  const std::string& owner() const { return owner_; }

 private:
  void write(const Lease& l) const;
  fs::path dir_;
  std::string owner_;
};

/// True while the process with this pid (and, if given, this start time) exists and
/// has not died (a zombie waiting to be reaped counts as dead).
bool process_alive(int pid, const std::string& start = "");
/// A process's start time as /proc/<pid>/stat reports it ("" if unknown).
std::string process_start(int pid);

}  // namespace wms::infra
