#include "wms/serve/http_front.hpp"
#include <sys/resource.h>

#include "wms/serve/http_stream.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace wms::serve {

using Clock = std::chrono::steady_clock;
namespace {

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

void HttpServer::Front::notify() {
  char c = 1;
  [[maybe_unused]] auto n = ::write(wake[1], &c, 1);
}

void HttpServer::Front::give(Conn c) {
  {
    std::lock_guard lock(in_mu);
    incoming.push_back(std::move(c));
  }
  notify();
}

// Answers on the front's own and closes the connection after a short lingering read,
// so that the client sees the answer rather than a reset.
void HttpServer::Front::reject(Conn& c, int status, const std::string& message) {
  std::string body = fmt::format(R"({{"error":{{"code":{},"message":"{}"}}}})", status, message);
  std::string head = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
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
std::optional<std::size_t> HttpServer::Front::frame(Conn& c) {
  for (;;) {
    bool was_idle = c.framer.idle();
    FrameStep s = c.framer.step(c.buf);
    if (was_idle && !c.framer.idle()) {
      c.phase = Phase::kHead;
      c.deadline = Clock::now() + seconds_of(limits.header_timeout);
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
        c.deadline = Clock::now() + seconds_of(limits.body_timeout);
        break;
    }
  }
}

void HttpServer::Front::release(std::uint64_t& bytes) {
  reserved -= bytes;
  bytes = 0;
}

void HttpServer::Front::close_conn(Conn& c) {
  release(c.reserved);
  close_socket(c.fd);
  c.fd = -1;
  --open_connections;
}

void HttpServer::Front::dispatch(Conn& c, std::size_t end) {
  Ready r{c.fd, c.buf.substr(0, end), c.buf.substr(end), c.reserved, Clock::now()};
  c.reserved = 0;
  c.buf.clear();
  c.fd = -1;
  {
    std::lock_guard lock(ready_mu);
    ready.push_back(std::move(r));
  }
  ready_cv.notify_one();
}

void HttpServer::Front::admit(Conn c) {
  // A new connection gets the head timeout to start; a kept-alive one the idle one.
  auto now = Clock::now();
  c.deadline =
      now + seconds_of(c.idle_since == Clock::time_point{} ? limits.header_timeout : limits.keep_alive_timeout);
  c.idle_since = now;
  conns.push_back(std::move(c));
  if (auto end = frame(conns.back())) dispatch(conns.back(), *end);  // pipelined request already here
}

void HttpServer::Front::loop() {
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
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

}  // namespace wms::serve
