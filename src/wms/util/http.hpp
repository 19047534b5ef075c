// A small HTTP client (libcurl) for the outbound calls wms makes: webhooks and the
// hosted-git REST API. One request per call, no shared state, never raises on an HTTP
// status: the caller decides what a status means.
#pragma once

#include <string>
#include <vector>

namespace wms::util {

struct HttpResponse {
  long status = 0;    ///< 0 when no answer came (see error)
  std::string body;   ///< at most 4 MiB kept
  std::string error;  ///< transport error ("" when an answer came)
  bool ok() const { return error.empty() && status >= 200 && status < 300; }
  /// "HTTP 422" / the transport error, for messages.
  std::string what() const;
};

/// method: GET, POST, PUT, PATCH, DELETE. headers: "Name: value" lines. Only http
/// and https URLs are followed; no redirects.
HttpResponse http_request(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
                          const std::string& body, double timeout_seconds);

/// scheme://host of a URL (what logs may show: URLs often embed tokens).
std::string redact_url(const std::string& url);

}  // namespace wms::util
