#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testing.hpp"
#include "wms/infra/lease.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::infra {
namespace {

using wms::testing::TempDir;

// A cloud in a test: machines carry their lease's tag; the console shows them all.
struct FakeProvider : Provider {
  int started = 0;
  bool fail_start = false;  // start() creates the machine, then fails (a cancelled start step)
  std::vector<TaggedMachine> machines;
  std::vector<std::string> stopped;
  std::string name() const override { return "fake"; }
  Instance start(const std::string& lease, const std::string& owner, double) override {
    Instance i{"fake", "i-" + std::to_string(++started), "10.0.0.1", "fake.large"};
    machines.push_back({i, lease, owner, "running"});
    if (fail_start) throw Unavailable("the console timed out");
    return i;
  }
  void stop(const Instance& i, const std::string&) override {
    stopped.push_back(i.id);
    for (auto& m : machines)
      if (m.instance.id == i.id) m.state = "terminated";
  }
  std::vector<TaggedMachine> find() override { return machines; }
  std::vector<std::string> remote_argv(const Instance&, const std::vector<std::string>& a) const override { return a; }
  std::string wms_program() const override { return "wms"; }
  std::string worker_dir() const override { return "w"; }
};

LeaseTerms terms(double cost = 0) {
  return {3600, 7200, cost};
}

TEST(Leases, AcquireRecordsThenReleaseStopsAndForgets) {
  TempDir t;
  auto ws = data::Workspace::init(t / "ws");
  FakeProvider p;
  Leases leases(ws);
  Lease l = leases.acquire(p, "run1", terms(3.6));
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
  Lease mine = leases.acquire(p, "alive", terms());
  // A lease written by a process that has since died (as after kill -9).
  pid_t child = fork();
  if (child == 0) {
    Leases(ws).acquire(p, "dead", terms());
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_EQ(leases.list().size(), 2u);
  auto reaped = leases.reap(p);
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].run_id, "dead");
  EXPECT_NE(reaped[0].reason.find("died"), std::string::npos) << reaped[0].reason;
  ASSERT_EQ(leases.list().size(), 1u);
  EXPECT_EQ(leases.list()[0].run_id, "alive");
  EXPECT_EQ(p.stopped.size(), 1u);
  leases.release(p, mine);
}

// The record exists before the provider is asked, so a start that fails half-way (the
// machine exists, the answer never came) is cleaned up, here or by the reaper.
TEST(Leases, TheRecordIsWrittenBeforeTheProviderIsAsked) {
  TempDir t;
  auto ws = data::Workspace::init(t / "ws");
  struct Watching : FakeProvider {
    Leases* leases = nullptr;
    std::size_t records_at_start = 0;
    Instance start(const std::string& lease, const std::string& owner, double d) override {
      records_at_start = leases->list().size();
      return FakeProvider::start(lease, owner, d);
    }
  } p;
  Leases leases(ws);
  p.leases = &leases;
  Lease l = leases.acquire(p, "run", terms());
  EXPECT_EQ(p.records_at_start, 1u);
  EXPECT_EQ(leases.find(l.id)->instance.id, "i-1");
  leases.release(p, l);
  p.fail_start = true;
  EXPECT_THROW(leases.acquire(p, "run", terms()), Unavailable);
  EXPECT_TRUE(leases.list().empty());
  EXPECT_EQ(p.stopped.back(), "i-2") << "the machine created under the tag is stopped";
}

// The reaper goes by the machines' tags: a machine no live lease holds is stopped; one
// whose lease is alive is not; an expired lease is; an unreadable state waits out the grace.
TEST(Leases, ReapGoesByTagsExpiryAndUnreadableStates) {
  TempDir t;
  auto ws = data::Workspace::init(t / "ws");
  util::FakeClock clock(1'700'000'000);
  FakeProvider p;
  Leases leases(ws);
  Lease alive = leases.acquire(p, "alive", terms());
  p.machines.push_back({{"fake", "i-orphan", "10.0.0.9", "fake.large"}, "gone-1", leases.owner(), "running"});
  p.machines.push_back({{"fake", "i-other", "10.0.0.8", "fake.large"}, "x-1", "elsewhere:/ws", "running"});
  auto r = leases.reap(p);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].instance.id, "i-orphan");
  EXPECT_EQ(p.stopped, std::vector<std::string>{"i-orphan"}) << "the live lease's and another owner's stay";
  // Renewal extends the expiry, capped by the hard deadline; past expiry the reaper stops it.
  clock.advance(3000);
  leases.renew(alive, "attempt 2");
  EXPECT_DOUBLE_EQ(leases.find(alive.id)->expires, 1'700'000'000 + 3000 + 3600.0);
  clock.advance(4100);
  leases.renew(alive, "attempt 3");
  EXPECT_DOUBLE_EQ(leases.find(alive.id)->expires, alive.hard_deadline) << "capped by the hard deadline";
  clock.advance(200);
  EXPECT_THROW(leases.renew(alive, "too late"), Conflict);
  r = leases.reap(p);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].reason.find("hard deadline"), std::string::npos) << r[0].reason;
  EXPECT_TRUE(leases.list().empty());
  // A machine whose state cannot be read: kept within the grace period, stopped after it.
  p.machines.push_back({{"fake", "i-mystery", "10.0.0.7", "fake.large"}, "lost-1", leases.owner(), ""});
  EXPECT_TRUE(leases.reap(p, 300).empty());
  clock.advance(301);
  r = leases.reap(p, 300);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].instance.id, "i-mystery");
  EXPECT_NE(r[0].reason.find("could not be read"), std::string::npos) << r[0].reason;
}

TEST(Leases, AReusedPidIsNotMistakenForTheHolder) {
  EXPECT_FALSE(process_start(::getpid()).empty());
  EXPECT_TRUE(process_alive(::getpid(), process_start(::getpid())));
  EXPECT_FALSE(process_alive(::getpid(), "1"));  // same pid, other start time
  EXPECT_FALSE(process_alive(0));
}

TEST(Leases, UnknownProviderIsAClearError) {
  TempDir t;
  auto ws0 = data::Workspace::init(t / "ws");
  util::append_line(ws0.config_path(), "infra: {provider: gcp}");
  auto ws = data::Workspace::open(t / "ws");
  EXPECT_THROW(make_provider(ws), InvalidInput);
}

TEST(Leases, SshProviderNeedsHostsAndRefusesShellCharacters) {
  TempDir t;
  auto ws0 = data::Workspace::init(t / "ws");
  util::append_line(ws0.config_path(), "infra: {provider: ssh}");
  EXPECT_THROW(make_provider(data::Workspace::open(t / "ws")), InvalidInput);
  TempDir t2;
  auto ws2 = data::Workspace::init(t2 / "ws");
  util::append_line(ws2.config_path(), "infra: {provider: ssh, ssh: {hosts: ['gpu1; rm -rf ~']}}");
  EXPECT_THROW(make_provider(data::Workspace::open(t2 / "ws")), InvalidInput);
}

}  // namespace
}  // namespace wms::infra
