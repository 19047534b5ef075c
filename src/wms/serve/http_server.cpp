#include "wms/serve/http_server.hpp"

#include "wms/serve/http_front.hpp"
#include "wms/serve/http_stream.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace wms::serve {

using Clock = std::chrono::steady_clock;

std::chrono::steady_clock::duration seconds_of(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

namespace {
thread_local const RequestContext* current = nullptr;
}

bool RequestContext::client_gone() const {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

const RequestContext* HttpServer::current_request() {
  return current;
}

void close_socket(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

void HttpServer::Front::work() {
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
  for (;;) {
    Ready r;
    {
      std::unique_lock lock(ready_mu);
      ready_cv.wait(lock, [&] { return stopping || !ready.empty(); });
      if (ready.empty()) return;
      r = std::move(ready.front());
      ready.pop_front();
    }
    BufferedStream stream(r.fd, r.request, seconds_of(limits.write_timeout));
    bool closed = false;
    RequestContext context{r.received, r.fd};
    current = &context;
    bool ok = server.process_request(stream, stopping, closed, nullptr);
    current = nullptr;
    release(r.reserved);
    if (!ok || closed || stopping) {
      close_socket(r.fd);
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
void HttpServer::Front::accepted(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (stopping) {
    close_socket(fd);
    return;
  }
  if (++open_connections > limits.max_connections) {
    // Full: the new client is told to come back, never left hanging.
    static const std::string kBusy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        "Connection: close\r\nContent-Length: 75\r\n\r\n"
        R"({"error":{"code":503,"message":"too many open connections, retry shortly"}})";
    [[maybe_unused]] auto n = ::send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close_socket(fd);
    --open_connections;
    if (on_reject) on_reject(503);
    return;
  }
  give(connection(fd));
}

HttpServer::Front::Conn HttpServer::Front::connection(int fd) const {
  Conn c;
  c.fd = fd;
  c.framer = RequestFramer(FramingLimits{limits.max_header_bytes, limits.max_body_bytes});
  return c;
}

HttpServer::HttpServer(HttpLimits limits, FrontRejectHook on_reject)
    : front_(std::make_unique<Front>(*this, limits, std::move(on_reject))) {
  new_task_queue = [] { return new InlineQueue; };
}

HttpServer::~HttpServer() {
  stop_front();
}

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
  for (auto& r : f.ready) close_socket(r.fd);  // queued by the front's last round
  f.ready.clear();
  {
    std::lock_guard lock(f.in_mu);
    for (auto& c : f.incoming) close_socket(c.fd);
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
