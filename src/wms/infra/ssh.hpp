// The ssh provider: hosts the team owns (a GPU box, a lab server), reached with
// OpenSSH's client and the user's own keys and known_hosts (argv to `ssh`, never a
// local shell; the remote command line is built from shell-quoted arguments, the one
// place a shell sees it). The host runs the same wms, as `wms worker`.
//
//   infra:
//     provider: ssh
//     cost_per_hour: 0.9            # what an hour of the host is worth (recorded per run)
//     ssh:
//       hosts: [gpu1.lab, wms@gpu2.lab:2222]   # tried in order; a host holds one lease at a time
//       identity_file: ~/.ssh/id_ed25519       # default: ssh's own choice
//       known_hosts: ~/.ssh/known_hosts        # default: ssh's; host keys are always checked
//       workdir: wms-worker                    # on the host, relative to its home
//       wms: wms                               # the wms program on the host
//       instance_type: lab GPU box             # recorded with the cost
//       connect_timeout: 10                    # seconds
//
// A lease on a host is a file there (WORKDIR/leases/<lease id>.json, written by `wms
// worker lease-open`, which checks the host's wms version first) and the worker it runs
// (its pid beside it); stop is `wms worker lease-close` (SIGTERM, then SIGKILL, to that
// worker) and find is `wms worker leases`. The worker stops itself at the lease's hard
// deadline and when its controller's connection closes, so a controller that vanishes
// leaves no work running past either.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wms/infra/provider.hpp"
#include "wms/util/config.hpp"

namespace wms::infra {

struct SshOptions {
  std::vector<std::string> hosts;  ///< [user@]host[:port]
  std::string user;                ///< for hosts without user@ (and EC2 instances)
  std::string identity_file, known_hosts;
  std::string workdir = "wms-worker";
  std::string wms = "wms";
  std::string instance_type = "ssh host";
  int connect_timeout = 10;
};

/// Reads PREFIX.* (infra.ssh, or infra.ec2.ssh without hosts); throws InvalidInput
/// naming the key (no hosts when required, a bad host or user, ...).
SshOptions ssh_options(const util::Config& config, const std::string& prefix = "infra.ssh", bool hosts_required = true);

/// The `ssh` argv that runs `argv` on `host` (quoted for its login shell).
std::vector<std::string> ssh_argv(const SshOptions& o, const std::string& host, const std::vector<std::string>& argv);

std::unique_ptr<Provider> make_ssh_provider(const SshOptions& o);

}  // namespace wms::infra
