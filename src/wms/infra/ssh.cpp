#include "wms/infra/ssh.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fmt/ranges.h>

#include <cstdio>
#include <set>

#include "wms/util/error.hpp"
#include "wms/util/subprocess.hpp"
#include "wms/version.hpp"

namespace wms::infra {
namespace {

std::string expand_home(const std::string& p) {
  const char* home = std::getenv("HOME");
  return p.rfind("~/", 0) == 0 && home ? std::string(home) + p.substr(1) : p;
}

class SshProvider final : public Provider {
 public:
  explicit SshProvider(SshOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "ssh"; }
  std::string wms_program() const override { return o_.wms; }
  std::string worker_dir() const override { return o_.workdir; }

  std::vector<std::string> remote_argv(const Instance& i, const std::vector<std::string>& argv) const override {
    return ssh_argv(o_, i.address, argv);
  }

  Instance start(const std::string& lease_id, const std::string& owner, double hard_deadline) override {
    std::set<std::string> busy;
    for (const auto& m : find())
      if (!m.state.empty()) busy.insert(m.instance.id);
    std::vector<std::string> why;
    for (const auto& host : o_.hosts) {
      if (busy.count(host)) {
        why.push_back(host + ": holds another lease");
        continue;
      }
      auto r = run(host, {o_.wms, "worker", "lease-open", "--dir", o_.workdir, "--lease", lease_id, "--owner", owner,
                          "--deadline", fmt::format("{:.0f}", hard_deadline), "--expect-version", kVersion});
      if (r.exit_code == 0) return {"ssh", host, host, o_.instance_type};
      why.push_back(fmt::format("{}: {}", host, last_line(r)));
    }
    throw Unavailable("infra.ssh: no host could take lease {}: {}", lease_id, fmt::join(why, "; "));
  }

  void stop(const Instance& i, const std::string& lease_id) override {
    auto r = run(i.address, {o_.wms, "worker", "lease-close", "--dir", o_.workdir, "--lease", lease_id});
    if (r.exit_code != 0)
      throw Unavailable("infra.ssh: could not release lease {} on {}: {}", lease_id, i.address, last_line(r));
  }

  std::vector<TaggedMachine> find() override {
    std::vector<TaggedMachine> out;
    for (const auto& host : o_.hosts) {
      auto r = run(host, {o_.wms, "worker", "leases", "--dir", o_.workdir});
      auto j = nlohmann::json::parse(r.out, nullptr, false);
      if (r.exit_code != 0 || !j.is_array()) {
        // Unreachable: its leases are unknown; the host itself stays (we do not own its power).
        std::fprintf(stderr, "infra.ssh: cannot list the leases on %s: %s\n", host.c_str(), last_line(r).c_str());
        continue;
      }
      for (const auto& l : j)
        out.push_back({{"ssh", host, host, o_.instance_type},
                       l.value("lease", ""),
                       l.value("owner", ""),
                       l.value("worker_alive", false) ? "running" : "idle"});
    }
    return out;
  }

 private:
  util::ProcessResult run(const std::string& host, const std::vector<std::string>& argv) const {
    return util::run_process(ssh_argv(o_, host, argv), "", o_.connect_timeout + 60.0);
  }
  static std::string last_line(const util::ProcessResult& r) {
    std::string s = r.err.empty() ? r.out : r.err;
    while (!s.empty() && s.back() == '\n') s.pop_back();
    auto nl = s.rfind('\n');
    std::string line = nl == std::string::npos ? s : s.substr(nl + 1);
    return line.empty() ? fmt::format("ssh exited {}", r.exit_code) : line;
  }

  SshOptions o_;
};

}  // namespace

SshOptions ssh_options(const util::Config& c, const std::string& prefix, bool hosts_required) {
  SshOptions o;
  auto key = [&](const char* k) { return prefix + "." + k; };
  o.hosts = c.get_string_list(key("hosts"), {});
  if (hosts_required && o.hosts.empty())
    throw InvalidInput("{}: {}: give at least one host ([user@]host[:port]) for infra.provider: ssh", c.source(),
                       key("hosts"));
  for (const auto& h : o.hosts)
    if (h.empty() || h[0] == '-' || h.find_first_of(" \t\n'\"\\;|&$`") != std::string::npos)
      throw InvalidInput("{}: {}: '{}' is not a [user@]host[:port]", c.source(), key("hosts"), h);
  o.user = c.get_string(key("user"), "");
  if (o.user.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
      std::string::npos)
    throw InvalidInput("{}: {}: '{}' is not a user name", c.source(), key("user"), o.user);
  o.identity_file = expand_home(c.get_string(key("identity_file"), ""));
  o.known_hosts = expand_home(c.get_string(key("known_hosts"), ""));
  o.workdir = c.get_string(key("workdir"), o.workdir);
  o.wms = c.get_string(key("wms"), o.wms);
  o.instance_type = c.get_string(key("instance_type"), o.instance_type);
  o.connect_timeout = static_cast<int>(c.get_int(key("connect_timeout"), o.connect_timeout));
  if (o.connect_timeout < 1 || o.connect_timeout > 600)
    throw InvalidInput("{}: {}: must be in [1, 600] seconds (found {})", c.source(), key("connect_timeout"),
                       o.connect_timeout);
  if (o.workdir.empty() || o.wms.empty())
    throw InvalidInput("{}: {} and {} must not be empty", c.source(), key("workdir"), key("wms"));
  return o;
}

std::vector<std::string> ssh_argv(const SshOptions& o, const std::string& host, const std::vector<std::string>& argv) {
  std::string dest = host.find('@') == std::string::npos && !o.user.empty() ? o.user + "@" + host : host, port;
  auto at = dest.find('@');
  auto colon = dest.rfind(':');
  if (colon != std::string::npos && (at == std::string::npos || colon > at)) {
    port = dest.substr(colon + 1);
    dest = dest.substr(0, colon);
  }
  std::vector<std::string> a = {"ssh",
                                "-o",
                                "BatchMode=yes",
                                "-o",
                                "StrictHostKeyChecking=yes",
                                "-o",
                                fmt::format("ConnectTimeout={}", o.connect_timeout),
                                "-o",
                                "ServerAliveInterval=5",
                                "-o",
                                "ServerAliveCountMax=3",
                                "-o",
                                "LogLevel=ERROR"};
  if (!port.empty()) a.insert(a.end(), {"-p", port});
  if (!o.identity_file.empty()) a.insert(a.end(), {"-i", o.identity_file, "-o", "IdentitiesOnly=yes"});
  if (!o.known_hosts.empty()) a.insert(a.end(), {"-o", "UserKnownHostsFile=" + o.known_hosts});
  a.insert(a.end(), {"--", dest});
  std::string command;
  for (const auto& arg : argv) command += (command.empty() ? "" : " ") + util::shell_quote(arg);
  a.push_back(command);
  return a;
}

std::unique_ptr<Provider> make_ssh_provider(const SshOptions& o) {
  return std::make_unique<SshProvider>(o);
}

}  // namespace wms::infra
