// How `wms serve`'s handlers answer (private to serve/): JSON bodies, JSON errors with
// the HTTP status of a wms error, and the wrapper that keeps every exception inside a
// handler and counts every answer in the metrics.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "wms/serve/metrics.hpp"
#include "wms/util/error.hpp"

namespace wms::serve {

/// An HTTP error with a status code, thrown inside handlers and answered as JSON.
struct HttpError : std::runtime_error {
  int status;
  HttpError(int s, const std::string& m) : std::runtime_error(m), status(s) {}
};

/// 400 invalid input, 404 not found, 409 conflict, 503 unavailable, else 500.
int status_for(const Error& e);

void send_json(httplib::Response& res, int status, const nlohmann::json& j);
/// {"error": {"code", "message"}}; a 503 also gets Retry-After: 1.
void send_error(httplib::Response& res, int status, const std::string& message);

/// The media type of a Content-Type value, RFC 9110 section 8.3.1: type "/" subtype,
/// lower-cased (they compare case-insensitively), parameters and whitespace around ';'
/// allowed. "" when the value is not a media type.
std::string media_type(std::string_view content_type);

/// Constant-time comparison, for secrets.
bool same_secret(const std::string& a, const std::string& b);

/// Runs `f` for `route`: no exception leaves it (HttpError, image errors -> 400/422,
/// wms errors -> status_for, others -> 500), and the answer is counted and timed.
void answer(Metrics& metrics, const std::string& route, httplib::Response& res, const std::function<void()>& f);

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
/// A handler wrapped by answer().
httplib::Server::Handler guarded(Metrics& metrics, const std::string& route, Handler f);

}  // namespace wms::serve
