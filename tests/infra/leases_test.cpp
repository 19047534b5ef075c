#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testing.hpp"
#include "wms/infra/provider.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::infra {
namespace {

using wms::testing::TempDir;

// Records starts and stops, like a cloud provider's console would.
struct FakeProvider : Provider {
  int started = 0;
  std::vector<std::string> stopped;
  std::string name() const override { return "fake"; }
  Instance start(const std::string& run) override {
    return {"fake", "i-" + run + "-" + std::to_string(++started), "10.0.0.1"};
  }
  void stop(const Instance& i) override { stopped.push_back(i.id); }
};

TEST(Leases, AcquireRecordsThenReleaseStopsAndForgets) {
  TempDir t;
  auto ws = data::Workspace::init(t / "ws");
  FakeProvider p;
  Leases leases(ws);
  Lease l = leases.acquire(p, "run1", 3.6);
  ASSERT_EQ(leases.list().size(), 1u);
  EXPECT_EQ(leases.list()[0].instance.id, l.instance.id);
  EXPECT_EQ(leases.list()[0].pid, ::getpid());
  EXPECT_TRUE(process_alive(l.pid, l.pid_start));
  double cost = leases.release(p, l);
  EXPECT_GE(cost, 0.0);
  EXPECT_LT(cost, 0.01);
  EXPECT_TRUE(leases.list().empty());
  EXPECT_EQ(p.stopped, std::vector<std::string>{l.instance.id});
}

TEST(Leases, ReapReleasesOnlyTheLeasesOfDeadProcesses) {
  TempDir t;
  auto ws = data::Workspace::init(t / "ws");
  FakeProvider p;
  Leases leases(ws);
  Lease mine = leases.acquire(p, "alive", 0);
  // A lease written by a process that has since died (as after kill -9).
  pid_t child = fork();
  if (child == 0) {
    Leases(ws).acquire(p, "dead", 0);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_EQ(leases.list().size(), 2u);
  auto reaped = leases.reap(p);
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].run_id, "dead");
  ASSERT_EQ(leases.list().size(), 1u);
  EXPECT_EQ(leases.list()[0].run_id, "alive");
  EXPECT_EQ(p.stopped.size(), 1u);
  leases.release(p, mine);
}

TEST(Leases, AReusedPidIsNotMistakenForTheHolder) {
  EXPECT_TRUE(process_alive(::getpid(), process_start(::getpid())));
  EXPECT_FALSE(process_alive(::getpid(), "1"));  // same pid, other start time
  EXPECT_FALSE(process_alive(0));
}

TEST(Leases, UnknownProviderIsAClearError) {
  TempDir t;
  auto ws0 = data::Workspace::init(t / "ws");
  util::append_line(ws0.config_path(), "infra: {provider: ec2}");
  auto ws = data::Workspace::open(t / "ws");
  EXPECT_THROW(make_provider(ws), InvalidInput);
}

}  // namespace
}  // namespace wms::infra
