#include "wms/pipeline/notify.hpp"
#include "wms/util/http.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "wms/util/error.hpp"

namespace wms::pipeline {
namespace {

// A local webhook receiver: fails the first `fail_first` requests with HTTP 500.
struct Receiver {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::atomic<int> hits{0};
  int fail_first = 0;
  std::string last_body;
  std::mutex mu;
  explicit Receiver(int fail = 0) : fail_first(fail) {
    server.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      int n = ++hits;
      {
        std::lock_guard lock(mu);
        last_body = req.body;
      }
      res.status = n <= fail_first ? 500 : 200;
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~Receiver() {
    server.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
};

TEST(Notify, DeliversJsonSlackAndDiscordBodies) {
  Receiver r;
  NotifyOptions o;
  o.webhooks = {{r.url(), "json", {}}};
  auto d = notify(o, "improved", {{"run_id", "p1"}, {"summary", "dice 0.95"}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].ok) << d[0].error;
  auto body = nlohmann::json::parse(r.last_body);
  EXPECT_EQ(body["event"], "improved");
  EXPECT_EQ(body["run_id"], "p1");
  EXPECT_EQ(nlohmann::json::parse(webhook_body("slack", "invalid", {{"run_id", "p2"}}))["text"],
            "wms pipeline p2: invalid");
  EXPECT_TRUE(nlohmann::json::parse(webhook_body("discord", "failed", {{"run_id", "p3"}})).contains("content"));
}

TEST(Notify, RetriesWithBackoffThenSucceeds) {
  Receiver r(2);
  NotifyOptions o;
  o.retries = 3;
  o.backoff_seconds = 0.01;
  o.webhooks = {{r.url(), "json", {}}};
  auto d = notify(o, "not_improved", {});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].ok);
  EXPECT_EQ(d[0].attempts, 3);
}

TEST(Notify, GivesUpAfterRetriesAndReportsIt) {
  Receiver r(100);
  NotifyOptions o;
  o.retries = 2;
  o.backoff_seconds = 0.01;
  o.webhooks = {{r.url(), "json", {}}};
  auto d = notify(o, "failed", {});
  EXPECT_FALSE(d[0].ok);
  EXPECT_EQ(d[0].attempts, 3);
  EXPECT_EQ(d[0].error, "HTTP 500");
}

TEST(Notify, OnlyTheEventsAWebhookAsksFor) {
  Receiver r;
  NotifyOptions o;
  o.webhooks = {{r.url(), "json", {"invalid"}}};
  EXPECT_TRUE(notify(o, "improved", {}).empty());
  EXPECT_EQ(notify(o, "invalid", {}).size(), 1u);
  EXPECT_EQ(r.hits, 1);
}

TEST(Notify, RedactsSecretsFromUrls) {
  EXPECT_EQ(util::redact_url("https://hooks.slack.com/services/T0/B0/SECRET"), "https://hooks.slack.com");
  EXPECT_EQ(util::redact_url("http://user:pass@example.com:8080/x?token=1"), "http://example.com:8080");
}

TEST(Notify, ConfigReadsUrlFromTheEnvironment) {
  setenv("WMS_TEST_HOOK", "https://example.com/hook/SECRET", 1);
  auto o = notify_options(util::Config::parse(
      "notify:\n  webhooks:\n    - url_env: WMS_TEST_HOOK\n      format: discord\n      events: [improved, failed]\n",
      "w"));
  ASSERT_EQ(o.webhooks.size(), 1u);
  EXPECT_EQ(o.webhooks[0].url, "https://example.com/hook/SECRET");
  EXPECT_EQ(o.webhooks[0].events, (std::vector<std::string>{"improved", "failed"}));
  unsetenv("WMS_TEST_HOOK");
  EXPECT_THROW(notify_options(util::Config::parse("notify:\n  webhooks:\n    - url_env: WMS_TEST_HOOK\n", "w")),
               InvalidInput);
  EXPECT_THROW(notify_options(util::Config::parse("notify:\n  webhooks:\n    - url: ftp://x\n", "w")), InvalidInput);
  EXPECT_THROW(
      notify_options(util::Config::parse("notify:\n  webhooks:\n    - url: http://x\n      format: xml\n", "w")),
      InvalidInput);
}

}  // namespace
}  // namespace wms::pipeline
