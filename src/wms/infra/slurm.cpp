#include "wms/infra/slurm.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/subprocess.hpp"
#include "wms/version.hpp"

namespace wms::infra {
namespace {

constexpr const char* kJobPrefix = "wms-";

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string last_line(const util::ProcessResult& r) {
  std::string s = trim(r.err.empty() ? r.out : r.err);
  auto nl = s.rfind('\n');
  std::string line = nl == std::string::npos ? s : s.substr(nl + 1);
  return line.empty() ? fmt::format("exit {}", r.exit_code) : line;
}

class SlurmProvider final : public Provider {
 public:
  explicit SlurmProvider(SlurmOptions o) : o_(std::move(o)) {}
  std::string name() const override { return "slurm"; }
  std::string wms_program() const override { return o_.wms; }
  std::string worker_dir() const override { return o_.workdir; }

  std::vector<std::string> remote_argv(const Instance& i, const std::vector<std::string>& argv) const override {
    std::vector<std::string> a = {"srun",      "--jobid=" + i.id, "--overlap",           "--ntasks=1",
                                  "--nodes=1", "--quiet",         "--kill-on-bad-exit=1"};
    a.insert(a.end(), argv.begin(), argv.end());
    return a;
  }

  Instance start(const std::string& lease_id, const std::string& owner, double hard_deadline) override {
    // --time in whole minutes, rounded down: the scheduler ends it by the hard deadline.
    long minutes = std::max(1L, static_cast<long>(std::floor((hard_deadline - util::now_seconds()) / 60)));
    std::vector<std::string> argv = {"sbatch",
                                     "--parsable",
                                     "--job-name=" + std::string(kJobPrefix) + lease_id,
                                     "--comment=" + owner,
                                     fmt::format("--time={}", minutes),
                                     "--output=/dev/null"};
    // The worker's warning 30 s before the limit. Slurm may send it up to 60 s early (its
    // event resolution, sbatch(1)), so a 1-minute job could get it while the lease is
    // still being opened (seen: lease-open's srun "Terminated" 1.5 s in); such a job
    // gets the time limit's own TERM (then KILL after KillWait) only.
    if (minutes >= 2) argv.push_back("--signal=TERM@30");
    if (!o_.partition.empty()) argv.push_back("--partition=" + o_.partition);
    argv.insert(argv.end(), o_.sbatch_args.begin(), o_.sbatch_args.end());
    // The allocation's own process: it holds the lease until scancel or the time limit.
    argv.push_back(fmt::format("--wrap=exec sleep {}", minutes * 60 + 60));
    auto r = util::run_process(argv, "", 60);
    if (r.exit_code != 0) throw Unavailable("infra.slurm: sbatch refused lease {}: {}", lease_id, last_line(r));
    std::string id = trim(r.out);
    id = id.substr(0, id.find(';'));  // "jobid;cluster" on federated clusters
    Instance inst{"slurm", id, "", o_.instance_type};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o_.queue_timeout);
    for (;;) {
      auto q = util::run_process({"squeue", "-h", "-j", id, "-o", "%T|%N"}, "", 30);
      std::string line = trim(q.out);
      std::string state = line.substr(0, line.find('|'));
      if (state == "RUNNING") {
        inst.address = line.substr(line.find('|') + 1);
        break;
      }
      if (q.exit_code == 0 && (line.empty() || state == "FAILED" || state == "CANCELLED" || state == "TIMEOUT")) {
        throw Unavailable("infra.slurm: job {} for lease {} ended before it ran ({})", id, lease_id,
                          line.empty() ? "gone" : state);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        util::run_process({"scancel", id}, "", 30);
        throw Unavailable(
            "infra.slurm: job {} for lease {} still {} after {:.0f} s (infra.slurm.queue_timeout); "
            "cancelled",
            id, lease_id, state.empty() ? "unknown" : state, o_.queue_timeout);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    auto open = util::run_process(
        remote_argv(inst, {o_.wms, "worker", "lease-open", "--dir", o_.workdir, "--lease", lease_id, "--owner", owner,
                           "--deadline", fmt::format("{:.0f}", hard_deadline), "--expect-version", kVersion,
                           "--shared"}),  // the job is the machine: other jobs may share its node
        "", 120);
    if (open.exit_code != 0) {
      util::run_process({"scancel", id}, "", 30);
      throw Unavailable("infra.slurm: job {} on {} cannot take lease {}: {}", id, inst.address, lease_id,
                        last_line(open));
    }
    return inst;
  }

  void stop(const Instance& i, const std::string& lease_id) override {
    // The node's side of the lease first, while the allocation still runs (best effort:
    // scancel ends everything in it anyway).
    util::run_process(remote_argv(i, {o_.wms, "worker", "lease-close", "--dir", o_.workdir, "--lease", lease_id}), "",
                      60);
    auto r = util::run_process({"scancel", i.id}, "", 60);
    // An already finished job is released: scancel says "Invalid job id specified".
    if (r.exit_code != 0 && r.err.find("Invalid job id") == std::string::npos)
      throw Unavailable("infra.slurm: scancel {} (lease {}) failed: {}", i.id, lease_id, last_line(r));
  }

  std::vector<TaggedMachine> find() override {
    auto r = util::run_process({"squeue", "-h", "-o", "%i|%j|%T|%k|%N"}, "", 60);
    if (r.exit_code != 0) throw Unavailable("infra.slurm: squeue failed: {}", last_line(r));
    std::vector<TaggedMachine> out;
    std::size_t b = 0;
    while (b < r.out.size()) {
      auto e = r.out.find('\n', b);
      std::string line = r.out.substr(b, e == std::string::npos ? std::string::npos : e - b);
      b = e == std::string::npos ? r.out.size() : e + 1;
      std::vector<std::string> f;
      for (std::size_t p = 0;;) {
        auto q = line.find('|', p);
        f.push_back(line.substr(p, q == std::string::npos ? std::string::npos : q - p));
        if (q == std::string::npos) break;
        p = q + 1;
      }
      if (f.size() < 5 || f[1].rfind(kJobPrefix, 0) != 0) continue;
      std::string state = f[2] == "RUNNING" || f[2] == "PENDING" || f[2] == "CONFIGURING" ? "running"
                          : f[2] == "COMPLETING"                                          ? "stopped"
                                                                                          : "";
      out.push_back({{"slurm", f[0], f[4], o_.instance_type}, f[1].substr(4), f[3] == "(null)" ? "" : f[3], state});
    }
    return out;
  }

 private:
  SlurmOptions o_;
};

}  // namespace

SlurmOptions slurm_options(const util::Config& c) {
  SlurmOptions o;
  o.partition = c.get_string("infra.slurm.partition", "");
  o.sbatch_args = c.get_string_list("infra.slurm.sbatch_args", {});
  for (const auto& a : o.sbatch_args)
    if (a.rfind("--", 0) != 0 || a.rfind("--wrap", 0) == 0 || a.rfind("--job-name", 0) == 0 ||
        a.rfind("--time", 0) == 0 || a.rfind("--comment", 0) == 0)
      throw InvalidInput(
          "{}: infra.slurm.sbatch_args: '{}' must be a --long=option other than --wrap, --job-name, --time and "
          "--comment (wms sets those: they are the lease)",
          c.source(), a);
  o.workdir = c.get_string("infra.slurm.workdir", o.workdir);
  o.wms = c.get_string("infra.slurm.wms", o.wms);
  o.queue_timeout = c.get_double("infra.slurm.queue_timeout", o.queue_timeout);
  if (!(o.queue_timeout >= 1)) throw InvalidInput("{}: infra.slurm.queue_timeout: must be >= 1 second", c.source());
  o.instance_type =
      c.get_string("infra.slurm.instance_type", o.partition.empty() ? o.instance_type : "slurm " + o.partition);
  return o;
}

std::unique_ptr<Provider> make_slurm_provider(const SlurmOptions& o) {
  return std::make_unique<SlurmProvider>(o);
}

}  // namespace wms::infra
