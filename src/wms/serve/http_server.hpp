// The HTTP server under `wms serve`: cpp-httplib's parser and router, behind a front
// that reads every request whole before a worker sees it.
//
// cpp-httplib (Debian 12: 0.11.4) gives each connection a worker thread for its whole
// life and bounds only each single read (5 s), so 8 clients that send a header byte
// every 2 s, or 8 idle keep-alive connections, hold all 8 workers and /healthz stops
// answering; a chunked body is read whole before any size check. Here one poll(2)
// thread (the front) owns every connection while its request arrives:
//
//   - the request head must be complete within `header_timeout` (else 408) and at most
//     `max_header_bytes` (else 431), as Apache's mod_reqtimeout and nginx's
//     client_header_timeout bound it; a malformed request line, header line or framing
//     is refused (400, 501 for an unknown method, 505 for another HTTP version) and the
//     connection closed, never guessed at (RFC 9112);
//   - the body must be complete within `body_timeout` of the head (else 408), and its
//     bytes on the wire are counted while they arrive, whatever the framing
//     (Content-Length or chunked, RFC 9112 section 7.1): past `max_body_bytes` the
//     answer is 413 at once, the rest never read;
//   - `Expect: 100-continue` is answered by the front (413 instead when the declared
//     length is over the limit), so curl's large uploads do not stall;
//   - a kept-alive connection waits for its next request in the front, not in a worker,
//     and is closed after `keep_alive_timeout` of silence;
//   - at most `max_connections` are open; past that a new one gets 503 + Retry-After;
//   - memory for request bodies is reserved when a head announces one (its length, or
//     the whole limit when chunked) and released once answered; a body that would pass
//     `max_buffered_bytes` in all gets 503 + Retry-After instead of a place.
//
// Only a complete request reaches a worker (one of `workers` threads), which runs
// httplib's routing on it from memory and writes the answer (within `write_timeout`).
// Requests a client pipelines are kept in order.
//
// Thread safety: configure before start(); stop() may be called from any thread.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace wms::serve {

struct HttpLimits {
  int workers = 8;                             ///< requests handled at once
  double header_timeout = 10;                  ///< seconds for a whole request head
  double body_timeout = 60;                    ///< seconds for a whole body, from its head
  double keep_alive_timeout = 5;               ///< idle seconds before a kept-alive connection is closed
  double write_timeout = 10;                   ///< seconds to write one answer
  std::size_t max_header_bytes = 16 << 10;     ///< request line + headers
  std::uint64_t max_body_bytes = 20ull << 20;  ///< bytes of body on the wire (chunk framing included)
  std::size_t max_connections = 512;
  std::uint64_t max_buffered_bytes = 256ull << 20;  ///< request bodies held at once, front and workers
};

/// What a handler may ask about the request it answers, beyond httplib's Request.
struct RequestContext {
  std::chrono::steady_clock::time_point received;  ///< when its last byte was read (before any wait for a worker)
  int fd = -1;                                     ///< its connection
  /// True once the client has closed its side of the connection or reset it: an answer can
  /// no longer be read. A client that half-closes after its request counts as gone, as
  /// nginx counts it (499). One poll(2), non-blocking.
  bool client_gone() const;
};

/// What the front answered by itself (for metrics): 400, 408, 413, 431, 501, 503 or 505.
using FrontRejectHook = std::function<void(int status)>;

class HttpServer : public httplib::Server {
 public:
  explicit HttpServer(HttpLimits limits, FrontRejectHook on_reject = {});
  ~HttpServer() override;
  /// Starts the front and the workers; then call listen_after_bind() (blocks until stop()).
  void start_front();
  /// Stops accepting, closes every connection, joins the threads.
  void stop_front();
  /// The request the calling thread is answering (a worker inside a handler), else nullptr.
  static const RequestContext* current_request();

 private:
  bool process_and_close_socket(socket_t sock) override;  // called by httplib per accepted socket

  struct Front;
  std::unique_ptr<Front> front_;
  friend struct Front;
};

}  // namespace wms::serve
