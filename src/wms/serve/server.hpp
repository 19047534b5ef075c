// `wms serve`: the prediction API, the registry as JSON, Prometheus metrics and the
// dashboard, from one process.
//
//   POST /v1/predict            photo (raw image/jpeg|image/png body, or multipart field
//                               image|file) -> mask PNG at the photo's size (EXIF applied);
//                               Accept: application/json -> JSON; ?overlay=1 -> JPEG overlay
//   GET  /healthz /readyz       alive / a production model is loaded and warmed (else 503)
//   GET  /metrics               Prometheus text format
//   GET  /v1/models[/V] /v1/runs[/ID] /v1/pipelines /v1/history /v1/decisions
//   POST /v1/models/V/promote, /v1/models/rollback   need "Authorization: Bearer $WMS_API_TOKEN";
//                               without that variable these routes are disabled
//   GET  /                      the dashboard
//
// Every handler is wrapped: bad input gets 400/413/415/422 with a JSON error, never a
// crash or a 500. Requests are read whole, under deadlines and size limits, before a
// handler runs (http_server.hpp): slow or greedy clients never hold every worker. Overload is shed, not queued
// without end: a prediction whose batch has not started within queue_timeout of its arrival is answered 503 with
// Retry-After instead of computed, as is one past max_queue in flight, at once; one whose client closed the
// connection is dropped before it is computed (counted as 499, nginx's code).
// The server follows the production alias: a new version is loaded and
// warmed in the background and swapped in without failing a request.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "wms/data/workspace.hpp"
#include "wms/train/runtime.hpp"

namespace wms::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";  ///< loopback unless told otherwise
  int port = 8080;                 ///< 0: any free port
  int http_threads = 40;           ///< requests handled at once (slow clients wait in the front, not here)
  double header_timeout = 10;      ///< seconds for a whole request head (else 408)
  double body_timeout = 60;        ///< seconds for a whole body after its head (else 408)
  double keep_alive_timeout = 5;   ///< idle seconds before a kept-alive connection is closed
  unsigned compute_threads = 0;    ///< 0: every core
  std::uint64_t max_upload_bytes = 20ull << 20;
  std::uint64_t max_upload_memory = 256ull << 20;  ///< request bodies held at once; past it 503 + Retry-After
  std::int64_t max_pixels = 40'000'000;
  int max_queue = 32;           ///< predictions in flight before 503 (fewer than http_threads: other routes answer)
  double queue_timeout = 1.2;   ///< seconds from a prediction's arrival to the start of its batch; past it 503
  double reload_seconds = 2.0;  ///< how often the production alias is checked
  train::Device device = train::Device::kAuto;
  train::Precision precision = train::Precision::kAuto;  ///< bf16 where the CPU has it natively
  std::string token;                                     ///< for mutating routes; "" disables them
};

class Server {
 public:
  Server(const data::Workspace& ws, ServeOptions options);
  ~Server();
  /// Binds (throws Unavailable if the port is taken) and serves on background threads.
  void start();
  int port() const;
  /// Blocks until stop() or should_stop() (polled every 100 ms) returns true.
  void wait(const std::function<bool()>& should_stop = {});
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The dashboard page (self-contained: no network needed).
const std::string& dashboard_html();

}  // namespace wms::serve
