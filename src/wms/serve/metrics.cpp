#include "wms/serve/metrics.hpp"

#include <fmt/format.h>

namespace wms::serve {

Metrics::Histogram Metrics::make(std::vector<double> bounds) {
  Histogram h;
  h.bounds = std::move(bounds);
  h.counts.assign(h.bounds.size() + 1, 0);
  return h;
}

void Metrics::Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds.size() && v > bounds[i]) ++i;
  ++counts[i];
  sum += v;
  ++count;
}

void Metrics::request(const std::string& route, int code, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{route, code}];
  auto it = latency_.find(route);
  if (it == latency_.end())
    it = latency_.emplace(route, make({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})).first;
  it->second.observe(seconds);
}

void Metrics::inference(double seconds) {
  std::lock_guard lock(mu_);
  inference_.observe(seconds);
}

void Metrics::in_flight(int delta) {
  std::lock_guard lock(mu_);
  in_flight_ += delta;
}

void Metrics::model_status(int served, int production, std::uint64_t failures, double loaded_at) {
  std::lock_guard lock(mu_);
  model_version_ = served;
  production_version_ = production;
  reload_failures_ = failures;
  last_reload_ = loaded_at;
}

void Metrics::rejected_overload() {
  std::lock_guard lock(mu_);
  ++overload_;
}

void Metrics::abandoned() {
  std::lock_guard lock(mu_);
  ++abandoned_;
}

namespace {

void histogram(std::string& out, const std::string& name, const std::string& labels, const std::vector<double>& bounds,
               const std::vector<unsigned long long>& counts, double sum, unsigned long long count) {
  unsigned long long cum = 0;
  std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cum += counts[i];
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds[i], cum);
  }
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, count);
  std::string l = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, l, sum, name, l, count);
}

}  // namespace

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out +=
      "# HELP wms_http_requests_total HTTP requests by route and status code.\n# TYPE wms_http_requests_total "
      "counter\n";
  for (auto& [k, v] : requests_)
    out += fmt::format("wms_http_requests_total{{route=\"{}\",code=\"{}\"}} {}\n", k.first, k.second, v);
  out +=
      "# HELP wms_http_request_duration_seconds Time to answer a request.\n"
      "# TYPE wms_http_request_duration_seconds histogram\n";
  for (auto& [route, h] : latency_)
    histogram(out, "wms_http_request_duration_seconds", fmt::format("route=\"{}\"", route), h.bounds, h.counts, h.sum,
              h.count);
  out +=
      "# HELP wms_inference_seconds Time in the model (preprocess, forward, mask).\n# TYPE wms_inference_seconds "
      "histogram\n";
  histogram(out, "wms_inference_seconds", "", inference_.bounds, inference_.counts, inference_.sum, inference_.count);
  out += fmt::format(
      "# HELP wms_requests_in_flight Predictions being served now.\n# TYPE wms_requests_in_flight gauge\n"
      "wms_requests_in_flight {}\n",
      in_flight_);
  out += fmt::format(
      "# HELP wms_overload_rejections_total Predictions refused with 503: too many in flight, or they could not "
      "start within the queue timeout.\n"
      "# TYPE wms_overload_rejections_total counter\nwms_overload_rejections_total {}\n",
      overload_);
  out += fmt::format(
      "# HELP wms_abandoned_requests_total Predictions dropped before they were computed: the client had closed "
      "the connection.\n"
      "# TYPE wms_abandoned_requests_total counter\nwms_abandoned_requests_total {}\n",
      abandoned_);
  out += fmt::format(
      "# HELP wms_model_info The model version being served.\n# TYPE wms_model_info gauge\n"
      "wms_model_info{{version=\"{}\"}} 1\n",
      model_version_);
  out += fmt::format(
      "# HELP wms_model_last_reload_timestamp_seconds When the served model was loaded.\n"
      "# TYPE wms_model_last_reload_timestamp_seconds gauge\nwms_model_last_reload_timestamp_seconds {}\n",
      last_reload_);
  out += fmt::format(
      "# HELP wms_model_production_version The version the registry's production alias points at (0: none).\n"
      "# TYPE wms_model_production_version gauge\nwms_model_production_version {}\n"
      "# HELP wms_model_behind 1 while the served version is not production's (loading, or it cannot be fetched).\n"
      "# TYPE wms_model_behind gauge\nwms_model_behind {}\n"
      "# HELP wms_model_reload_failures_total Attempts to follow production that failed (fetch, verify, load).\n"
      "# TYPE wms_model_reload_failures_total counter\nwms_model_reload_failures_total {}\n",
      production_version_, production_version_ != 0 && production_version_ != model_version_ ? 1 : 0, reload_failures_);
  return out;
}

}  // namespace wms::serve
