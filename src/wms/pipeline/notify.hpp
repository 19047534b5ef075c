// Webhook notifications of pipeline outcomes (generic JSON, Slack and Discord bodies).
//
//   notify:
//     timeout_seconds: 5
//     retries: 3                 # attempts after the first, with backoff 0.5 s, 1 s, 2 s ...
//     webhooks:
//       - url_env: SLACK_URL     # the URL (a secret) from the environment; or url: https://...
//         format: slack          # json | slack | discord
//         events: [improved, not_improved, invalid, failed, cancelled]   # default: all
//
// A failing webhook is reported in the result and the job log, never fails the run.
// URLs are never logged beyond scheme and host (they often embed tokens).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "wms/util/config.hpp"
#include "wms/util/options.hpp"

namespace wms::pipeline {

struct Webhook {
  std::string url;
  std::string format = "json";
  std::vector<std::string> events;  ///< empty: every event
};

struct NotifyOptions {
  std::vector<Webhook> webhooks;
  double timeout_seconds = 5;
  int retries = 3;
  double backoff_seconds = 0.5;
};

/// notify.timeout_seconds, retries and backoff_seconds (the webhooks list is read by code).
const util::OptionTable<NotifyOptions>& notify_option_table();

/// Reads notify: from a config; throws InvalidInput naming the key (also for a
/// url_env whose variable is unset).
NotifyOptions notify_options(const util::Config& config);

struct Delivery {
  std::string target;  ///< scheme://host only
  bool ok = false;
  int attempts = 0;
  std::string error;
};

/// Sends `event` with `payload` to every webhook that wants it.
std::vector<Delivery> notify(const NotifyOptions& o, const std::string& event, const nlohmann::json& payload);

/// The body for a format: json (the payload with "event"), slack {"text"}, discord {"content"}.
std::string webhook_body(const std::string& format, const std::string& event, const nlohmann::json& payload);

}  // namespace wms::pipeline
