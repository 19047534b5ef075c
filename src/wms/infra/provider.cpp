#include "wms/infra/provider.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include "wms/infra/ec2.hpp"
#include "wms/infra/slurm.hpp"
#include "wms/infra/ssh.hpp"
#include "wms/util/error.hpp"

namespace wms::infra {
namespace {

// This machine: nothing to start; the lease still guards the run.
class LocalProvider : public Provider {
 public:
  std::string name() const override { return "local"; }
  Instance start(const std::string&, const std::string&, double) override {
    return {"local", fmt::format("local-{}", ::getpid()), "localhost", "this machine"};
  }
  void stop(const Instance&, const std::string&) override {}
  std::vector<TaggedMachine> find() override { return {}; }
  std::vector<std::string> remote_argv(const Instance&, const std::vector<std::string>& argv) const override {
    return argv;
  }
  std::string worker_dir() const override { return ".wms/worker"; }
  std::string wms_program() const override {
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? "wms" : self.string();
  }
};

}  // namespace

std::unique_ptr<Provider> make_provider(const data::Workspace& ws) {
  std::string name = ws.config().get_string("infra.provider", "local");
  if (name == "local") return std::make_unique<LocalProvider>();
  if (name == "ssh") return make_ssh_provider(ssh_options(ws.config()));
  if (name == "slurm") return make_slurm_provider(slurm_options(ws.config()));
  if (name == "ec2") return make_ec2_provider(ec2_options(ws.config()));
  throw InvalidInput("{}: infra.provider: '{}' is not one of local, ssh, slurm or ec2", ws.config().source(), name);
}

}  // namespace wms::infra
