#include "wms/serve/http_server.hpp"

#include "wms/serve/http_framing.hpp"
#include "wms/serve/http_stream.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

namespace wms::serve {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

void close_fd(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Service Unavailable";
  }
}

}  // namespace

struct HttpServer::Front {
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

  void notify() {
    char c = 1;
    [[maybe_unused]] auto n = ::write(wake[1], &c, 1);
  }

  void give(Conn c) {
    {
      std::lock_guard lock(in_mu);
      incoming.push_back(std::move(c));
    }
    notify();
  }

  // Answers on the front's own and closes the connection after a short lingering read,
  // so that the client sees the answer rather than a reset.
  void reject(Conn& c, int status, const std::string& message) {
    std::string body = fmt::format(R"({{"error":{{"code":{},"message":"{}"}}}})", status, message);
    std::string head = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
                                   "Connection: close\r\n{}\r\n",
                                   status, reason_phrase(status), body.size(), status == 503 ? "Retry-After: 1\r\n" : "");
    std::string out = head + body;
    [[maybe_unused]] auto n = ::send(c.fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(c.fd, SHUT_WR);
    release(c.reserved);
    c.buf.clear();
    c.buf.shrink_to_fit();
    c.phase = Phase::kClosing;
    c.deadline = Clock::now() + std::chrono::seconds(2);
    if (on_reject) on_reject(status);
  }

  // Looks at what a connection has received: nothing to do yet, a complete request
  // (returns its length), or a rejection (already answered).
  std::optional<std::size_t> frame(Conn& c) {
    for (;;) {
      bool was_idle = c.framer.idle();
      FrameStep s = c.framer.step(c.buf);
      if (was_idle && !c.framer.idle()) {
        c.phase = Phase::kHead;
        c.deadline = Clock::now() + seconds(limits.header_timeout);
      }
      switch (s.kind) {
        case FrameStep::Kind::kMore: return std::nullopt;
        case FrameStep::Kind::kRequest: return s.end;
        case FrameStep::Kind::kReject: reject(c, s.status, s.message); return std::nullopt;
        case FrameStep::Kind::kHead:
          // Memory for the body, held until the answer is written.
          if (s.body_bytes > 0) {
            if (reserved + s.body_bytes > limits.max_buffered_bytes) {
              reject(c, 503, "too many uploads in progress; retry shortly");
              return std::nullopt;
            }
            reserved += s.body_bytes;
            c.reserved = s.body_bytes;
          }
          if (s.send_continue) {
            static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
            [[maybe_unused]] auto n = ::send(c.fd, kContinue, sizeof(kContinue) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
          }
          c.phase = Phase::kBody;
          c.deadline = Clock::now() + seconds(limits.body_timeout);
          break;
      }
    }
  }

  void release(std::uint64_t& bytes) {
    reserved -= bytes;
    bytes = 0;
  }

  void close_conn(Conn& c) {
    release(c.reserved);
    close_fd(c.fd);
    c.fd = -1;
    --open_connections;
  }

  void dispatch(Conn& c, std::size_t end) {
    Ready r{c.fd, c.buf.substr(0, end), c.buf.substr(end), c.reserved};
    c.reserved = 0;
    c.buf.clear();
    c.fd = -1;
    {
      std::lock_guard lock(ready_mu);
      ready.push_back(std::move(r));
    }
    ready_cv.notify_one();
  }

  void admit(Conn c) {
    // A new connection gets the head timeout to start; a kept-alive one the idle one.
    auto now = Clock::now();
    c.deadline = now + seconds(c.idle_since == Clock::time_point{} ? limits.header_timeout : limits.keep_alive_timeout);
    c.idle_since = now;
    conns.push_back(std::move(c));
    if (auto end = frame(conns.back())) dispatch(conns.back(), *end);  // pipelined request already here
  }

  void loop() {
    std::vector<pollfd> fds;
    std::vector<std::list<Conn>::iterator> of;
    char chunk[64 << 10];
    while (!stopping) {
      std::vector<Conn> arrived;
      {
        std::lock_guard lock(in_mu);
        arrived.swap(incoming);
      }
      for (auto& c : arrived) admit(std::move(c));
      conns.remove_if([](const Conn& c) { return c.fd < 0; });

      fds.assign(1, pollfd{wake[0], POLLIN, 0});
      of.assign(1, conns.end());
      Clock::time_point next = Clock::now() + std::chrono::seconds(1);
      for (auto it = conns.begin(); it != conns.end(); ++it) {
        fds.push_back(pollfd{it->fd, POLLIN, 0});
        of.push_back(it);
        next = std::min(next, it->deadline);
      }
      ::poll(fds.data(), fds.size(), ms_until(next));
      if (fds[0].revents & POLLIN) {
        char drain[64];
        while (::read(wake[0], drain, sizeof(drain)) > 0) {
        }
      }
      auto now = Clock::now();
      for (std::size_t k = 1; k < fds.size(); ++k) {
        Conn& c = *of[k];
        if (fds[k].revents) {
          bool eof = false;
          // At most 256 KiB a connection a round, so one fast sender cannot starve the others.
          for (std::size_t round = 0; round < (256u << 10);) {
            ssize_t n = ::recv(c.fd, chunk, sizeof(chunk), MSG_DONTWAIT);
            if (n > 0) {
              round += static_cast<std::size_t>(n);
              if (c.phase != Phase::kClosing) c.buf.append(chunk, static_cast<std::size_t>(n));
              continue;
            }
            eof = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
            break;
          }
          if (c.phase != Phase::kClosing) {
            if (auto end = frame(c)) {
              dispatch(c, *end);
              continue;
            }
          }
          if (eof) {
            close_conn(c);
            continue;
          }
        }
        if (c.fd >= 0 && now >= c.deadline) {
          if (c.phase == Phase::kHead)
            reject(c, 408, fmt::format("the request head did not arrive within {} s", limits.header_timeout));
          else if (c.phase == Phase::kBody)
            reject(c, 408, fmt::format("the request body did not arrive within {} s", limits.body_timeout));
          else
            close_conn(c);  // idle, or done lingering
        }
      }
    }
    for (auto& c : conns)
      if (c.fd >= 0) close_conn(c);
    conns.clear();
  }

  void work() {
    for (;;) {
      Ready r;
      {
        std::unique_lock lock(ready_mu);
        ready_cv.wait(lock, [&] { return stopping || !ready.empty(); });
        if (ready.empty()) return;
        r = std::move(ready.front());
        ready.pop_front();
      }
      BufferedStream stream(r.fd, r.request, seconds(limits.write_timeout));
      bool closed = false;
      bool ok = server.process_request(stream, stopping, closed, nullptr);
      release(r.reserved);
      if (!ok || closed || stopping) {
        close_fd(r.fd);
        --open_connections;
        continue;
      }
      Conn c = connection(r.fd);
      c.buf = std::move(r.rest);
      c.idle_since = Clock::now();  // kept alive: the idle timeout applies
      give(std::move(c));
    }
  }

  // A socket from httplib's accept loop.
  void accepted(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (stopping) {
      close_fd(fd);
      return;
    }
    if (++open_connections > limits.max_connections) {
      // Full: the new client is told to come back, never left hanging.
      static const std::string kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
          "Connection: close\r\nContent-Length: 75\r\n\r\n"
          R"({"error":{"code":503,"message":"too many open connections, retry shortly"}})";
      [[maybe_unused]] auto n = ::send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close_fd(fd);
      --open_connections;
      if (on_reject) on_reject(503);
      return;
    }
    give(connection(fd));
  }

  Conn connection(int fd) const {
    Conn c;
    c.fd = fd;
    c.framer = RequestFramer(FramingLimits{limits.max_header_bytes, limits.max_body_bytes});
    return c;
  }
};

HttpServer::HttpServer(HttpLimits limits, FrontRejectHook on_reject)
    : front_(std::make_unique<Front>(*this, limits, std::move(on_reject))) {
  new_task_queue = [] { return new InlineQueue; };
}

HttpServer::~HttpServer() { stop_front(); }

void HttpServer::start_front() {
  auto& f = *front_;
  if (::pipe2(f.wake, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  f.front = std::thread([&f] { f.loop(); });
  for (int i = 0; i < std::max(1, f.limits.workers); ++i) f.workers.emplace_back([&f] { f.work(); });
}

void HttpServer::stop_front() {
  auto& f = *front_;
  {
    std::lock_guard lock(f.ready_mu);  // a worker between its check and its wait sees it
    f.stopping = true;
  }
  if (f.wake[1] >= 0) f.notify();
  f.ready_cv.notify_all();
  if (f.front.joinable()) f.front.join();
  for (auto& w : f.workers)
    if (w.joinable()) w.join();
  f.workers.clear();
  for (auto& r : f.ready) close_fd(r.fd);  // queued by the front's last round
  f.ready.clear();
  {
    std::lock_guard lock(f.in_mu);
    for (auto& c : f.incoming) close_fd(c.fd);
    f.incoming.clear();
  }
  for (int& fd : f.wake)
    if (fd >= 0) ::close(fd), fd = -1;
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  front_->accepted(sock);
  return true;
}

}  // namespace wms::serve
