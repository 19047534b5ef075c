#include "wms/pipeline/notify.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/http.hpp"
#include "wms/util/options.hpp"

namespace wms::pipeline {

const util::OptionTable<NotifyOptions>& notify_option_table() {
  using util::Range;
  static const auto t =
      util::OptionTable<NotifyOptions>()
          .add("notify.timeout_seconds", "timeout_seconds", WMS_MEMBER(timeout_seconds), "per delivery attempt",
               Range::above(0))
          .add("notify.retries", "retries", WMS_MEMBER(retries), "after a failed delivery", Range::closed(0, 20))
          .add("notify.backoff_seconds", "backoff_seconds", WMS_MEMBER(backoff_seconds),
               "first wait, doubled each retry", Range::at_least(0));
  return t;
}

NotifyOptions notify_options(const util::Config& c) {
  NotifyOptions o;
  notify_option_table().read(o, c);
  for (int i = 0;
       c.has(fmt::format("notify.webhooks.{}.format", i)) || c.has(fmt::format("notify.webhooks.{}.url", i)) ||
       c.has(fmt::format("notify.webhooks.{}.url_env", i));
       ++i) {
    std::string key = fmt::format("notify.webhooks.{}", i);
    Webhook w;
    w.format = c.get_string(key + ".format", "json");
    std::string env = c.get_string(key + ".url_env", "");
    if (!env.empty()) {
      const char* v = std::getenv(env.c_str());
      if (!v || !*v) throw InvalidInput("{}: {}.url_env: the environment variable {} is not set", c.source(), key, env);
      w.url = v;
    } else {
      w.url = c.get_string(key + ".url", "");
    }
    if (w.url.rfind("http://", 0) != 0 && w.url.rfind("https://", 0) != 0)
      throw InvalidInput("{}: {}.url: must start with http:// or https://", c.source(), key);
    if (w.format != "json" && w.format != "slack" && w.format != "discord")
      throw InvalidInput("{}: {}.format: must be json, slack or discord", c.source(), key);
    for (int k = 0; c.has(fmt::format("{}.events.{}", key, k)); ++k)
      w.events.push_back(c.get_string(fmt::format("{}.events.{}", key, k), ""));
    o.webhooks.push_back(w);
  }
  return o;
}

std::string webhook_body(const std::string& format, const std::string& event, const nlohmann::json& p) {
  if (format == "json") {
    nlohmann::json j = p;
    j["event"] = event;
    return j.dump();
  }
  std::string text = fmt::format("wms pipeline {}: {}", p.value("run_id", ""), event);
  if (p.contains("summary")) text += " — " + p["summary"].get<std::string>();
  return format == "slack" ? nlohmann::json{{"text", text}}.dump() : nlohmann::json{{"content", text}}.dump();
}

std::vector<Delivery> notify(const NotifyOptions& o, const std::string& event, const nlohmann::json& payload) {
  std::vector<Delivery> out;
  for (const auto& w : o.webhooks) {
    if (!w.events.empty() && std::find(w.events.begin(), w.events.end(), event) == w.events.end()) continue;
    Delivery d;
    d.target = util::redact_url(w.url);
    std::string body = webhook_body(w.format, event, payload);
    double wait = o.backoff_seconds;
    for (int attempt = 0; attempt <= o.retries; ++attempt) {
      ++d.attempts;
      auto r = util::http_request("POST", w.url, {"Content-Type: application/json"}, body, o.timeout_seconds);
      d.error = r.ok() ? "" : r.what();
      if (d.error.empty()) {
        d.ok = true;
        break;
      }
      if (attempt < o.retries) {
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        wait *= 2;
      }
    }
    out.push_back(d);
  }
  return out;
}

}  // namespace wms::pipeline
