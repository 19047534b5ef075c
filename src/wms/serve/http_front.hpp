// The front of HttpServer (http_server.hpp): one poll(2) thread that owns every
// connection while its request arrives, and the workers that answer complete requests.
// Private to serve/: http_front.cpp is the poll thread's side, http_server.cpp the
// workers' and the accept loop's.
#pragma once

#include "wms/serve/http_framing.hpp"
#include "wms/serve/http_server.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace wms::serve {

struct HttpServer::Front {
  using Clock = std::chrono::steady_clock;

  HttpServer& server;
  HttpLimits limits;
  FrontRejectHook on_reject;

  enum class Phase { kIdle, kHead, kBody, kClosing };
  struct Conn {
    int fd = -1;
    std::string buf;  // received, not yet handed to a worker
    RequestFramer framer;
    Phase phase = Phase::kIdle;  // for the deadlines; the framer knows the bytes
    Clock::time_point deadline;
    Clock::time_point idle_since;
    std::uint64_t reserved = 0;  // bytes of memory held for this request's body
  };
  struct Ready {
    int fd = -1;
    std::string request;
    std::string rest;  // pipelined bytes after the request
    std::uint64_t reserved = 0;
    Clock::time_point received;  // when the request was complete
  };

  std::atomic<bool> stopping{false};
  int wake[2] = {-1, -1};
  std::thread front;
  std::vector<std::thread> workers;

  std::mutex in_mu;
  std::vector<Conn> incoming;  // guarded by in_mu: new sockets and kept-alive ones back from workers

  std::mutex ready_mu;
  std::condition_variable ready_cv;
  std::deque<Ready> ready;  // guarded by ready_mu

  std::atomic<std::size_t> open_connections{0};
  // Memory for request bodies is reserved when a head announces one (its Content-Length,
  // or the whole limit when chunked) and released when the request is answered, so the
  // bodies held at once, in the front or in workers, never pass max_buffered_bytes.
  std::atomic<std::uint64_t> reserved{0};
  std::list<Conn> conns;  // the front thread's only

  Front(HttpServer& s, HttpLimits l, FrontRejectHook r) : server(s), limits(l), on_reject(std::move(r)) {}

  // The front thread (http_front.cpp).
  void loop();
  void notify();
  /// Hands a connection to the front (thread-safe).
  void give(Conn c);
  void reject(Conn& c, int status, const std::string& message);
  std::optional<std::size_t> frame(Conn& c);
  void release(std::uint64_t& bytes);
  void close_conn(Conn& c);
  void dispatch(Conn& c, std::size_t end);
  void admit(Conn c);

  // The workers and the accept loop (http_server.cpp).
  void work();
  void accepted(int fd);
  Conn connection(int fd) const;
};

/// Closes a socket both ways.
void close_socket(int fd);
/// Seconds as a steady-clock duration.
std::chrono::steady_clock::duration seconds_of(double s);

}  // namespace wms::serve
