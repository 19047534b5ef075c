// The ec2 provider against moto_server (on these machines; not installable on a fresh
// Debian one) with signature checking on: run with tags, the shutdown arranged in the
// same call, terminate, retries, a controller killed with -9 then reap, an untracked
// instance under our tag, a named instance started and stopped, refused credentials.
// moto emulates instance states and boots nothing, so no worker runs here (the ssh
// tests cover the worker). Without moto_server the binary exits 77 (skipped).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testing.hpp"
#include "wms/infra/lease.hpp"
#include "wms/util/clock.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::infra {
namespace {

using testing::qp;
using testing::run_shell;
using testing::TempDir;

std::string env(const char* k) {
  const char* v = std::getenv(k);
  return v ? v : "";
}

// moto's endpoint (main_with_servers exports it before any test runs).
std::string moto() {
  return env("S3_ENDPOINT");
}

// One signed Query API call with curl's own SigV4 (an independent client).
std::string ec2(const std::string& body, const std::string& endpoint = moto()) {
  auto r = run_shell("curl -sS --aws-sigv4 aws:amz:us-east-1:ec2 --user " +
                     qp(env("AWS_ACCESS_KEY_ID") + ":" + env("AWS_SECRET_ACCESS_KEY")) + " --data " +
                     qp(body + "&Version=2016-11-15") + " " + qp(endpoint + "/"));
  return r.out;
}

std::string form(const std::string& s) {
  std::string out;
  for (unsigned char c : s)  // RFC 3986 unreserved characters stay (moto re-encodes them so)
    out +=
        std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ? std::string(1, c) : fmt::format("%{:02X}", c);
  return out;
}

// tests/servers/flaky_proxy.py in front of moto, stopped when it goes out of scope.
struct Proxy {
  std::string pid, port;
  explicit Proxy(const std::string& mode) {
    auto r = run_shell("(exec /usr/bin/python3 " + std::string(WMS_SOURCE_DIR) + "/tests/servers/flaky_proxy.py " +
                       moto().substr(moto().rfind(':') + 1) + " " + mode +
                       " > /tmp/ec2proxy.$$ 2>&1 & echo $!; sleep 1; cat /tmp/ec2proxy.$$; rm -f /tmp/ec2proxy.$$)");
    auto nl = r.out.find('\n');
    pid = r.out.substr(0, nl);
    port = nl == std::string::npos ? "" : r.out.substr(nl + 1);
    port = port.substr(0, port.find('\n'));
  }
  ~Proxy() { run_shell("kill " + pid + " 2>/dev/null"); }
};

std::string state_of(const std::string& id) {
  std::string x = ec2("Action=DescribeInstances&InstanceId.1=" + id);
  auto s = x.find("<instanceState>");
  auto n = x.find("<name>", s);
  return s == std::string::npos ? "" : x.substr(n + 6, x.find("</name>", n) - n - 6);
}

struct Ec2Project {
  TempDir t;
  data::Workspace ws;
  explicit Ec2Project(const std::string& ec2_extra = "image_id: ami-760aaa0f", const std::string& endpoint = moto())
      : ws(data::Workspace::init(t / "ws")) {
    util::append_line(ws.config_path(), fmt::format("infra:\n  provider: ec2\n  ec2:\n    endpoint: {}\n    region: "
                                                    "us-east-1\n    instance_type: t3.micro\n    retries: 3\n    {}\n",
                                                    endpoint, ec2_extra));
    ws = data::Workspace::open(t / "ws");
  }
  std::unique_ptr<Provider> provider() { return make_provider(ws); }
};

LeaseTerms terms() {
  return {3600, 7200, 0.0104};
}

TEST(Ec2Provider, RunsATaggedInstanceThatEndsItselfAndTerminatesIt) {
  Ec2Project p;
  auto prov = p.provider();
  Leases leases(p.ws);
  Lease l = leases.acquire(*prov, "run-a", terms());
  ASSERT_EQ(l.instance.id.rfind("i-", 0), 0u) << l.instance.id;
  EXPECT_EQ(state_of(l.instance.id), "running");
  EXPECT_EQ(leases.find(l.id)->instance.id, l.instance.id) << "the record names the instance once it is known";
  bool tagged = false;
  for (const auto& m : prov->find())
    if (m.instance.id == l.instance.id) tagged = m.lease_id == l.id && m.owner == leases.owner();
  EXPECT_TRUE(tagged) << "found by its tags";
  std::string attr = ec2("Action=DescribeInstanceAttribute&InstanceId=" + l.instance.id +
                         "&Attribute=instanceInitiatedShutdownBehavior");
  EXPECT_NE(attr.find("<value>terminate</value>"), std::string::npos) << attr;
  std::string ud = ec2("Action=DescribeInstanceAttribute&InstanceId=" + l.instance.id + "&Attribute=userData");
  auto v = ud.find("<value>");
  ASSERT_NE(v, std::string::npos) << ud;
  std::string b64 = ud.substr(v + 7, ud.find("</value>") - v - 7);
  std::string script = run_shell("echo " + qp(b64) + " | base64 -d").out;
  EXPECT_NE(script.find("shutdown -h +119"), std::string::npos) << "the hard deadline, 2 h: " << script;
  leases.release(*prov, l);
  EXPECT_EQ(state_of(l.instance.id), "terminated");
  EXPECT_TRUE(leases.list().empty());
  for (const auto& m : prov->find()) EXPECT_NE(m.instance.id, l.instance.id) << "a terminated one is not listed";
}

// Every call's first try gets 503 SlowDown (tests/servers/flaky_proxy.py): all retried.
TEST(Ec2Provider, CallsThatFailOnceAreRetried) {
  Proxy proxy("first503");
  ASSERT_FALSE(proxy.port.empty());
  Ec2Project p("image_id: ami-760aaa0f", "http://127.0.0.1:" + proxy.port);
  auto prov = p.provider();
  Leases leases(p.ws);
  Lease l = leases.acquire(*prov, "run-r", terms());
  leases.release(*prov, l);
  EXPECT_EQ(state_of(l.instance.id), "terminated") << "TerminateInstances failed once, then went through";
  // Always down: a clear error naming the endpoint, after the retries.
  Ec2Project down("image_id: ami-760aaa0f\n    retries: 1", "http://127.0.0.1:9");
  try {
    Leases(down.ws).acquire(*down.provider(), "run-d", terms());
    FAIL() << "started on an endpoint that is down";
  } catch (const Unavailable& e) {
    EXPECT_NE(std::string(e.what()).find("retries exhausted"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:9"), std::string::npos) << e.what();
  }
  // Whether RunInstances took effect is unknown: the record stays (no instance id) for
  // the reaper or the run's stop-infra, which releases it.
  auto left = Leases(down.ws).list();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(left[0].instance.id.empty());
  Leases(down.ws).release(*down.provider(), left[0]);
  EXPECT_TRUE(Leases(down.ws).list().empty());
}

// The controller dies with -9 holding an instance: `reap` (or the next run) finds the
// lease of a dead process and terminates the instance it names.
TEST(Ec2Provider, AControllerKilledWithMinus9IsReaped) {
  Ec2Project p;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto prov = p.provider();
    Leases(p.ws).acquire(*prov, "run-k", terms());
    ::raise(SIGKILL);
  }
  waitpid(child, nullptr, 0);
  Leases leases(p.ws);
  ASSERT_EQ(leases.list().size(), 1u);
  std::string id = leases.list()[0].instance.id;
  EXPECT_EQ(state_of(id), "running");
  auto prov = p.provider();
  auto reaped = leases.reap(*prov);
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].instance.id, id);
  EXPECT_NE(reaped[0].reason.find("died"), std::string::npos) << reaped[0].reason;
  EXPECT_EQ(state_of(id), "terminated");
  EXPECT_TRUE(leases.list().empty());
}

// An instance under our tag that no lease record holds (a start step cancelled after
// RunInstances answered) is terminated; another controller's is not touched.
TEST(Ec2Provider, ReapTerminatesUntrackedInstancesOfThisOwnerOnly) {
  Ec2Project p;
  Leases leases(p.ws);
  auto run = [&](const std::string& lease, const std::string& owner) {
    std::string x =
        ec2("Action=RunInstances&ImageId=ami-760aaa0f&InstanceType=t3.micro&MinCount=1&MaxCount=1"
            "&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=wms%3Alease"
            "&TagSpecification.1.Tag.1.Value=" +
            lease + "&TagSpecification.1.Tag.2.Key=wms%3Aowner&TagSpecification.1.Tag.2.Value=" + form(owner));
    auto i = x.find("<instanceId>");
    return x.substr(i + 12, x.find("</instanceId>", i) - i - 12);
  };
  std::string orphan = run("lost-1", leases.owner()), theirs = run("x-1", "elsewhere:/ws");
  auto prov = p.provider();
  std::string seen;
  for (const auto& m : prov->find()) seen += m.instance.id + " " + m.lease_id + " " + m.owner + " " + m.state + "; ";
  auto reaped = leases.reap(*prov);
  ASSERT_EQ(reaped.size(), 1u) << "owner " << leases.owner() << ", found: " << seen;
  EXPECT_EQ(reaped[0].instance.id, orphan);
  EXPECT_EQ(state_of(orphan), "terminated");
  EXPECT_EQ(state_of(theirs), "running");
  ec2("Action=TerminateInstances&InstanceId.1=" + theirs);
}

// The console cannot say what an instance under our tag is doing (tests/servers/
// flaky_proxy.py rewrites every state to "?"): kept through the grace period, then
// treated as a leak and terminated.
TEST(Ec2Provider, AnInstanceInAnUnreadableStateIsStoppedAfterTheGrace) {
  std::string x =
      ec2("Action=RunInstances&ImageId=ami-760aaa0f&InstanceType=t3.micro&MinCount=1&MaxCount=1"
          "&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=wms%3Alease"
          "&TagSpecification.1.Tag.1.Value=murky-1");
  auto i = x.find("<instanceId>");
  std::string id = x.substr(i + 12, x.find("</instanceId>", i) - i - 12);
  Proxy proxy("unreadable");
  ASSERT_FALSE(proxy.port.empty());
  Ec2Project p("image_id: ami-760aaa0f", "http://127.0.0.1:" + proxy.port);
  auto prov = p.provider();
  bool unreadable = false;
  for (const auto& m : prov->find())
    if (m.instance.id == id) unreadable = m.state.empty();
  EXPECT_TRUE(unreadable);
  Leases leases(p.ws);
  EXPECT_TRUE(leases.reap(*prov, 300).empty()) << "within the grace period";
  EXPECT_EQ(state_of(id), "running");
  util::FakeClock later(util::now_seconds() + 301);
  auto reaped = leases.reap(*prov, 300);
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0].instance.id, id);
  EXPECT_NE(reaped[0].reason.find("could not be read for 301 s"), std::string::npos) << reaped[0].reason;
  EXPECT_EQ(state_of(id), "terminated");
}

// A named instance the team keeps: started for the lease, stopped (not terminated) after.
TEST(Ec2Provider, ANamedInstanceIsStartedAndStopped) {
  std::string x = ec2("Action=RunInstances&ImageId=ami-760aaa0f&InstanceType=t3.small&MinCount=1&MaxCount=1");
  auto i = x.find("<instanceId>");
  std::string id = x.substr(i + 12, x.find("</instanceId>", i) - i - 12);
  ec2("Action=StopInstances&InstanceId.1=" + id);
  ASSERT_EQ(state_of(id), "stopped");
  Ec2Project p("instance_id: " + id + "\n    stopped_cost_per_hour: 0.011");
  auto prov = p.provider();
  Leases leases(p.ws);
  Lease l = leases.acquire(*prov, "run-n", terms());
  EXPECT_EQ(l.instance.id, id);
  EXPECT_EQ(l.instance.type, "t3.small");
  EXPECT_EQ(state_of(id), "running");
  leases.release(*prov, l);
  EXPECT_EQ(state_of(id), "stopped") << "kept, not terminated";
  EXPECT_EQ(ec2("Action=DescribeInstances&InstanceId.1=" + id).find("wms:lease"), std::string::npos)
      << "its lease tag is removed";
  EXPECT_TRUE(leases.reap(*prov).empty()) << "a stopped named instance is not a leak";
}

TEST(Ec2Provider, RefusedCredentialsAreDeniedAndSettingsChecked) {
  Ec2Project p;
  setenv("AWS_SECRET_ACCESS_KEY_SAVED", env("AWS_SECRET_ACCESS_KEY").c_str(), 1);
  setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
  EXPECT_THROW(Leases(p.ws).acquire(*p.provider(), "run-x", terms()), Denied);
  setenv("AWS_SECRET_ACCESS_KEY", env("AWS_SECRET_ACCESS_KEY_SAVED").c_str(), 1);
  EXPECT_EQ(Leases(p.ws).list().size(), 1u) << "kept for stop-infra or the reaper, which can tell";
  Ec2Project neither("subnet_id: subnet-1");
  EXPECT_THROW(neither.provider(), InvalidInput);
}

}  // namespace
}  // namespace wms::infra

int main(int argc, char** argv) {
  return wms::testing::main_with_servers(argc, argv, {"moto_s3.sh"});
}
