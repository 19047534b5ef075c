// Compute for training. A provider hands out a machine for a lease (lease.hpp) and
// takes it back; every machine it hands out carries the lease's id as its tag (an EC2
// tag, a Slurm job name, a lease file on an ssh host), so that the reaper finds
// machines by what they carry, not by ids passed between steps.
//
// Providers: "local" (this machine; the default) and "ssh" (hosts the team owns, by
// OpenSSH's client; ssh.hpp). Each reads its settings under infra.<name>.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wms/data/workspace.hpp"

namespace wms::infra {

struct Instance {
  std::string provider;
  std::string id;       ///< the provider's id: "local-12345", an ssh host, an EC2 instance id, a Slurm job id
  std::string address;  ///< where the work runs: "localhost", an ssh destination
  std::string type;     ///< what it is (instance type, partition, "ssh host"); recorded with the cost
};

/// A machine the provider found carrying a lease's tag.
struct TaggedMachine {
  Instance instance;
  std::string lease_id;
  std::string owner;  ///< the lease's owner, as tagged ("" when the provider keeps none)
  std::string state;  ///< the provider's word ("running", "stopped", ...); "" when it could not be read
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string name() const = 0;
  /// A machine for `lease_id` (tagged with it and `owner`), ready for `worker_argv()`.
  /// `hard_deadline` (unix seconds): the machine must stop itself by then even if this
  /// process vanishes, where the provider can arrange it. Throws Unavailable when none
  /// can be had, Denied when the credentials are refused, InvalidInput for bad settings.
  virtual Instance start(const std::string& lease_id, const std::string& owner, double hard_deadline) = 0;
  /// Releases it and stops what runs there for the lease. Idempotent: a machine already
  /// gone is not an error. Throws when the provider could not be asked (the lease stays).
  virtual void stop(const Instance& instance, const std::string& lease_id) = 0;
  /// Every machine that carries a wms lease tag, with its state. Throws when the
  /// provider cannot be asked at all.
  virtual std::vector<TaggedMachine> find() = 0;
  /// The command that runs `argv` on the instance (for the local provider, argv itself).
  virtual std::vector<std::string> remote_argv(const Instance& instance,
                                               const std::vector<std::string>& argv) const = 0;
  /// The wms program on the instance ("wms" in its PATH unless configured).
  virtual std::string wms_program() const = 0;
  /// Where `wms worker` keeps its leases and workspace on the instance.
  virtual std::string worker_dir() const = 0;
};

/// The provider named in config (infra.provider: local | ssh; default local), with its
/// settings checked now. Throws InvalidInput naming the key.
std::unique_ptr<Provider> make_provider(const data::Workspace& ws);

}  // namespace wms::infra
