// The registry's common operations, timed one call at a time on one engine:
//   bench_registry --location PATH_OR_URL [--runs 200]
// open (connect and check the schema), create_run, log_metrics (one epoch: 4 metrics),
// finish_run, list_runs (the dashboard's 50), find_run, alias (what serve checks every
// reload), move_alias (a promotion). Prints one JSON object: per operation, the median
// and p99 in milliseconds and the count. bench/registry.sh runs it on SQLite and on
// PostgreSQL in one run and prints the table.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>

#include "wms/registry/registry.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Samples {
  std::vector<double> ms;
  void time(const std::function<void()>& f) {
    auto t0 = Clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  nlohmann::json summary() {
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
    return {{"median_ms", at(0.5)}, {"p99_ms", at(0.99)}, {"count", ms.size()}};
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("time the registry's common operations on one engine");
  std::string location;
  int runs = 200;
  app.add_option("--location", location, "a SQLite file or a postgresql:// URL (an empty database)")->required();
  app.add_option("--runs", runs, "runs to create (each: create, 10 epochs of metrics, finish)");
  CLI11_PARSE(app, argc, argv);
  using wms::registry::Registry;
  std::map<std::string, Samples> s;
  try {
    for (int i = 0; i < 20; ++i) s["open"].time([&] { Registry r(location); });
    Registry reg(location);
    int v1 = reg.register_model("00000000000000000000000000000001", "", "", {});
    int v2 = reg.register_model("00000000000000000000000000000002", "", "", {});
    reg.move_alias("production", v1, "bench", "start");
    std::vector<std::string> ids;
    for (int i = 0; i < runs; ++i) {
      std::string id;
      s["create_run"].time([&] { id = reg.create_run({"train", "", "ds", "", ""}); });
      for (int epoch = 1; epoch <= 10; ++epoch)
        s["log_metrics"].time([&] {
          reg.log_metrics(id, epoch,
                          {{"train_loss", 0.5 / epoch}, {"val_loss", 0.6 / epoch}, {"val_dice", 0.9}, {"val_iou", 0.8}});
        });
      s["finish_run"].time([&] { reg.finish_run(id, wms::registry::kSuccess); });
      ids.push_back(id);
    }
    for (int i = 0; i < 100; ++i) {
      s["list_runs"].time([&] { reg.list_runs(50); });
      s["find_run"].time([&] { reg.find_run(ids[i % ids.size()]); });
      s["alias"].time([&] { reg.alias("production"); });
      s["move_alias"].time([&] { reg.move_alias("production", i % 2 ? v1 : v2, "bench", "flip", {}, "previous"); });
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_registry: %s\n", e.what());
    return 1;
  }
  nlohmann::json out;
  for (auto& [name, samples] : s) out[name] = samples.summary();
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
