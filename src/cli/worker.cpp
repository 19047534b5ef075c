// `wms worker`: the leased machine's side of a training (pipeline/worker.hpp). The
// controller runs these over ssh; a person rarely does, except `wms worker leases`.
#include "wms/pipeline/worker.hpp"
#include "cli/command.hpp"
#include "wms/util/signals.hpp"

namespace wms::cli {

struct WorkerArgs {
  std::string dir = "wms-worker", lease, owner, version, expect_version;
  double deadline = 0;
  std::uint64_t seed = 0;
  bool shared = false;
};

void add_worker(CLI::App& root, Globals&, Commands& out) {
  auto* w = root.add_subcommand("worker", "the leased machine's side of a training (run by the controller over ssh)");
  w->require_subcommand(1);
  auto a = std::make_shared<WorkerArgs>();
  auto dir = [a](CLI::App* app) {
    app->add_option("--dir", a->dir, "the worker's folder (leases, workspace)")->capture_default_str();
  };
  {
    auto* app = w->add_subcommand("lease-open", "record a lease on this host (after checking the wms version)");
    dir(app);
    app->add_option("--lease", a->lease, "lease id")->required();
    app->add_option("--owner", a->owner, "who holds it")->required();
    app->add_option("--deadline", a->deadline, "hard deadline, unix seconds")->required();
    app->add_option("--expect-version", a->expect_version, "the controller's wms version")->required();
    app->add_flag("--shared", a->shared, "other leases on this host are no conflict (a scheduler's jobs share nodes)");
    out.push_back({app, [a] {
                     return pipeline::worker_lease_open(a->dir, a->lease, a->owner, a->deadline, a->expect_version,
                                                        a->shared);
                   }});
  }
  {
    auto* app = w->add_subcommand("lease-close", "stop the lease's worker (SIGTERM, then SIGKILL) and forget it");
    dir(app);
    app->add_option("--lease", a->lease, "lease id")->required();
    out.push_back({app, [a] { return pipeline::worker_lease_close(a->dir, a->lease); }});
  }
  {
    auto* app = w->add_subcommand("leases", "the leases on this host, as JSON");
    dir(app);
    out.push_back({app, [a] { return pipeline::worker_leases(a->dir); }});
  }
  {
    auto* app = w->add_subcommand("train", "train one attempt on a dataset version from the remote (job on stdin)");
    dir(app);
    app->add_option("--lease", a->lease, "lease id")->required();
    app->add_option("--version", a->version, "dataset version id")->required();
    app->add_option("--seed", a->seed, "training seed")->required();
    out.push_back({app, [a] {
                     util::install_interrupt_handler();
                     return pipeline::worker_train(a->dir, a->lease, a->version, a->seed);
                   }});
  }
}

}  // namespace wms::cli
