// Compute for training: a provider starts an instance before training and stops it
// after, and every start is a lease on disk so that a run killed with -9 cannot leak
// an instance: the next run (or `wms infra reap`) finds the lease of a dead process
// and stops what it names.
//
// Providers: "local" (this machine; the default). Remote ones (ssh hosts, EC2) plug in
// behind the same interface. Leases live in .wms/leases/<instance>.json.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wms/data/workspace.hpp"

namespace wms::infra {

namespace fs = std::filesystem;

struct Instance {
  std::string provider;
  std::string id;       ///< e.g. "local-12345"
  std::string address;  ///< where the work runs ("localhost" for local)
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string name() const = 0;
  /// Acquires compute; throws Unavailable when none can be had.
  virtual Instance start(const std::string& run_id) = 0;
  /// Releases it; must be idempotent (stopping a stopped instance is fine).
  virtual void stop(const Instance& instance) = 0;
};

/// The provider named in config (infra.provider, default "local").
std::unique_ptr<Provider> make_provider(const data::Workspace& ws);

struct Lease {
  Instance instance;
  std::string run_id;
  int pid = 0;            ///< the process that holds it
  std::string pid_start;  ///< its start time (/proc/<pid>/stat), so a reused pid is not mistaken for it
  double started = 0;     ///< unix seconds
  double cost_per_hour = 0;
  nlohmann::json to_json() const;
  static Lease from_json(const nlohmann::json& j);
};

class Leases {
 public:
  explicit Leases(const data::Workspace& ws) : dir_(ws.leases_dir()) {}
  /// Starts an instance and records its lease (durably) before returning.
  Lease acquire(Provider& p, const std::string& run_id, double cost_per_hour = 0);
  /// Stops the instance and removes the lease; returns the cost of the time held.
  double release(Provider& p, const Lease& lease);
  std::vector<Lease> list() const;
  /// Releases every lease whose process is gone (kill -9, crash). Returns what it released.
  std::vector<Lease> reap(Provider& p);

 private:
  fs::path dir_;
};

/// True while the process with this pid (and, if given, this start time) exists.
bool process_alive(int pid, const std::string& start = "");
/// A process's start time as /proc/<pid>/stat reports it ("" if unknown).
std::string process_start(int pid);

}  // namespace wms::infra
