// A fleet on loopback: two `wms serve` replicas, each with its own workspace, sharing
// one PostgreSQL registry and one S3 bucket (Swift with s3api), behind Debian's haproxy
// (health check on /readyz). Clients predict continuously through haproxy while
// production moves twice; then production moves to a version whose bundle never
// reached the bucket. Every server is real and started here; without PostgreSQL,
// Swift or haproxy the binary exits 77 (skipped) saying what is missing.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "registry/backend.hpp"
#include "testing.hpp"
#include "wms/data/s3.hpp"
#include "wms/nn/model.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/fs.hpp"

namespace wms {
namespace {

using testing::qp;
using testing::run_shell;
using testing::run_wms;
using testing::TempDir;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  close(fd);
  return ntohs(a.sin_port);
}

// A background process started through the shell; killed (TERM) at the end.
struct Process {
  std::string pid;
  Process(const std::string& command, const fs::path& log) {
    auto r = run_shell("(" + command + " >" + qp(log) + " 2>&1 & echo $!)");
    pid = r.out.substr(0, r.out.find('\n'));
  }
  ~Process() { run_shell("kill " + pid + " 2>/dev/null; sleep 0.2; kill -9 " + pid + " 2>/dev/null"); }
};

nlohmann::json get_json(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(2, 0);
  auto r = c.Get(path);
  if (!r) return nullptr;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

std::string get_text(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get(path);
  return r ? r->body : "";
}

// Seconds until every replica's /readyz says it serves `version` (-1 past `limit`).
double until_served(const std::vector<int>& ports, int version, double limit = 60) {
  auto t0 = Clock::now();
  for (;;) {
    bool all = true;
    for (int p : ports) {
      auto j = get_json(p, "/readyz");
      all &= j.is_object() && j.value("model_version", 0) == version;
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (all) return s;
    if (s > limit) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Clients that predict without pause through the balancer, counting every failure.
struct Clients {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::map<int, int> versions;  // model version seen in answers -> count
  std::vector<std::thread> threads;
  Clients(int n, int port, const std::string& photo) {
    for (int i = 0; i < n; ++i)
      threads.emplace_back([this, port, photo] {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(10, 0);
        httplib::Headers accept{{"Accept", "application/json"}};
        while (!stop) {
          auto r = c.Post("/v1/predict", accept, photo, "image/jpeg");
          std::lock_guard lock(mu);
          if (r && r->status == 200) {
            ++ok;
            auto j = nlohmann::json::parse(r->body, nullptr, false);
            if (j.is_object()) ++versions[j.value("model_version", 0)];
          } else {
            ++failed;
            failures.push_back(r ? fmt::format("HTTP {}: {}", r->status, r->body.substr(0, 200))
                                 : "transport: " + httplib::to_string(r.error()));
          }
        }
      });
  }
  void join() {
    stop = true;
    for (auto& t : threads) t.join();
  }
};

TEST(Fleet, ReplicasFollowProductionWithoutFailingARequest) {
  TempDir t;
  testing::fresh_registry(t);  // WMS_REGISTRY_URL: every workspace and wms started here
  std::string bucket = fmt::format("wms-fleet-{}", ::getpid());
  data::S3Options so;
  so.endpoint = std::string(std::getenv("S3_ENDPOINT"));
  so.credentials = data::find_credentials();
  data::S3Client(so, bucket).create_bucket();

  // The controller (where models are trained and promoted) and two replicas' workspaces.
  fs::path ctl = t / "controller", r1 = t / "replica1", r2 = t / "replica2";
  for (const auto& ws : {ctl, r1, r2}) {
    ASSERT_EQ(run_wms("init " + qp(ws)).exit_code, 0);
    auto r = run_wms("remote add storage s3://" + bucket + "/fleet --default --endpointurl " +
                     std::string(std::getenv("S3_ENDPOINT")) + " -w " + qp(ws));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::vector<int> versions;
  {
    auto ws = data::Workspace::open(ctl);
    auto reg = registry::open(ws);
    nn::ModelConfig c;
    c.input_size = 32;
    for (int seed = 1; seed <= 4; ++seed)
      versions.push_back(registry::register_bundle(ws, reg, nn::Model(c, seed), ""));
  }
  auto promote = [&](int v) {
    auto r = run_wms(fmt::format("models promote {} -r 'fleet test' -w {}", v, qp(ctl)));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  promote(versions[0]);

  int p1 = free_port(), p2 = free_port(), ph = free_port();
  std::string serve = std::string(WMS_BIN) + " serve --reload-seconds 0.5 --threads 1 --port ";
  Process s1(serve + std::to_string(p1) + " -w " + qp(r1), t / "replica1.log");
  Process s2(serve + std::to_string(p2) + " -w " + qp(r2), t / "replica2.log");
  util::atomic_write(t / "haproxy.cfg", fmt::format(R"(global
  maxconn 256
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 2
  option redispatch
frontend fleet
  bind 127.0.0.1:{}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  server replica1 127.0.0.1:{} check inter 500ms fall 2 rise 1
  server replica2 127.0.0.1:{} check inter 500ms fall 2 rise 1
)",
                                                    ph, p1, p2));
  Process lb("haproxy -db -f " + qp(t / "haproxy.cfg"), t / "haproxy.log");
  double first = until_served({p1, p2}, versions[0]);
  ASSERT_GE(first, 0) << util::read_file(t / "replica1.log") << util::read_file(t / "replica2.log");
  std::fprintf(stderr, "both replicas fetched version %d from the bucket and serve it after %.2f s\n", versions[0],
               first);
  for (int i = 0; i < 100 && get_json(ph, "/readyz").is_null(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

  run_wms("synth --out " + qp(t / "photos") + " --count 1 --size 96");
  std::string photo;
  for (const auto& e : fs::directory_iterator(t / "photos" / "images")) photo = util::read_file(e.path());
  Clients clients(4, ph, photo);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (int k : {1, 2}) {
    promote(versions[k]);
    double s = until_served({p1, p2}, versions[k]);
    EXPECT_GE(s, 0) << "version " << versions[k] << " not served by both replicas within 60 s";
    std::fprintf(stderr, "production -> version %d: both replicas serve it %.2f s after the promotion\n", versions[k],
                 s);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  // A version whose bundle is not in the bucket (moved by hand, no push): the replicas
  // keep serving the old one and say why.
  {
    auto ws = data::Workspace::open(ctl);
    auto reg = registry::open(ws);
    reg.move_alias(registry::kProduction, versions[3], "test", "bundle never pushed", std::nullopt,
                   registry::kPrevious);
  }
  for (int p : {p1, p2}) {
    nlohmann::json ready;
    for (int i = 0; i < 100; ++i) {
      ready = get_json(p, "/readyz");
      if (ready.is_object() && ready.value("behind", false) && ready["error"].is_string()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(ready.value("model_version", 0), versions[2]) << ready.dump();
    EXPECT_EQ(ready.value("production_version", 0), versions[3]) << ready.dump();
    EXPECT_TRUE(ready.value("ready", false)) << ready.dump();
    EXPECT_NE(ready.value("error", "").find("cannot fetch"), std::string::npos) << ready.dump();
    std::string m = get_text(p, "/metrics");
    EXPECT_NE(m.find("wms_model_behind 1"), std::string::npos) << m;
    EXPECT_NE(m.find(fmt::format("wms_model_info{{version=\"{}\"}} 1", versions[2])), std::string::npos) << m;
    EXPECT_NE(m.find(fmt::format("wms_model_production_version {}", versions[3])), std::string::npos);
    EXPECT_EQ(m.find("wms_model_reload_failures_total 0\n"), std::string::npos) << m;
  }
  // The registry routes (the dashboard's data) read the shared registry through the balancer.
  auto models = get_json(ph, "/v1/models");
  ASSERT_TRUE(models.is_array()) << models.dump();
  EXPECT_EQ(models.size(), 4u);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  clients.join();
  std::fprintf(stderr, "%d predictions through haproxy, %d failed; versions answered:", clients.ok.load(),
               clients.failed.load());
  for (auto& [v, n] : clients.versions) std::fprintf(stderr, " v%d x%d", v, n);
  std::fprintf(stderr, "\n");
  EXPECT_EQ(clients.failed, 0) << (clients.failures.empty() ? "" : clients.failures.front());
  EXPECT_GT(clients.ok, 20);
  for (int k : {1, 2}) EXPECT_GT(clients.versions[versions[k]], 0) << "version " << versions[k] << " never answered";
}

}  // namespace
}  // namespace wms

// Starts PostgreSQL and Swift (tests/servers/), checks for haproxy, runs, stops them.
int main(int argc, char** argv) {
  if (wms::testing::run_shell("command -v haproxy").exit_code != 0) {
    std::fprintf(stderr, "SKIPPED: haproxy is not installed (Debian package haproxy)\n");
    return 77;
  }
  return wms::testing::main_with_servers(argc, argv, {"postgres.sh", "swift_s3.sh"});
}
