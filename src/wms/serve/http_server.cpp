#include "wms/serve/http_server.hpp"

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

int ms_until(Clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 1000));
}

bool iequals(std::string_view a, std::string_view b) {
  auto low = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return low(x) == low(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// RFC 9110 section 5.6.2: tchar.
bool is_tchar(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) || std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
}

void close_fd(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

void addr_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if ((peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) : getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len)) != 0)
    return;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&a), len, host, sizeof(host), serv, sizeof(serv),
                  NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(serv);
  }
}

// A request the front read whole, served to httplib from memory; the answer is
// written to the socket before a deadline.
class BufferedStream : public httplib::Stream {
 public:
  // The write timeout runs from the first byte of the answer, not from the request
  // (a prediction may wait for the compute thread first).
  BufferedStream(int fd, const std::string& request, Clock::duration write_timeout)
      : fd_(fd), data_(request), timeout_(write_timeout) {}
  bool is_readable() const override { return pos_ < data_.size(); }
  bool is_writable() const override {
    pollfd p{fd_, POLLOUT, 0};
    return ::poll(&p, 1, ms_until(deadline())) > 0 && (p.revents & POLLOUT);
  }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, data_.size() - pos_);
    std::memcpy(ptr, data_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (Clock::now() >= deadline()) return -1;
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, ms_until(deadline()));
      } else {
        return -1;
      }
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { addr_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { addr_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  Clock::time_point deadline() const {
    if (deadline_ == Clock::time_point{}) deadline_ = Clock::now() + timeout_;
    return deadline_;
  }
  int fd_;
  const std::string& data_;
  size_t pos_ = 0;
  Clock::duration timeout_;
  mutable Clock::time_point deadline_{};
};

// httplib hands each accepted socket to its task queue; this one runs the hand-over
// to the front on the accepting thread (it only queues the socket).
class InlineQueue : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

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
    Phase phase = Phase::kIdle;
    Clock::time_point deadline;
    Clock::time_point idle_since;
    std::size_t scan = 0;      // head: where to resume looking for its end
    std::size_t head_end = 0;  // body: where the head ends
    bool chunked = false;
    std::uint64_t length = 0;  // Content-Length
    std::size_t chunk_pos = 0; // chunked: next unparsed byte
    bool in_trailer = false;
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
    auto now = Clock::now();
    if (c.phase == Phase::kIdle) {
      // RFC 9112 section 2.2: empty lines before a request line are ignored.
      std::size_t lead = 0;
      while (lead < c.buf.size() && (c.buf[lead] == '\r' || c.buf[lead] == '\n')) ++lead;
      if (lead) c.buf.erase(0, lead);
      if (c.buf.empty()) return std::nullopt;
      c.phase = Phase::kHead;
      c.deadline = now + seconds(limits.header_timeout);
      c.scan = 0;
    }
    if (c.phase == Phase::kHead) {
      std::size_t end = std::string::npos;
      for (std::size_t i = c.scan; i < c.buf.size(); ++i) {
        if (c.buf[i] != '\n') continue;
        if (i + 1 < c.buf.size() && c.buf[i + 1] == '\n') { end = i + 2; break; }
        if (i + 2 < c.buf.size() && c.buf[i + 1] == '\r' && c.buf[i + 2] == '\n') { end = i + 3; break; }
      }
      if (end == std::string::npos) {
        c.scan = c.buf.size() >= 2 ? c.buf.size() - 2 : 0;
        if (c.buf.size() > limits.max_header_bytes)
          reject(c, 431, fmt::format("the request head is over {} bytes", limits.max_header_bytes));
        return std::nullopt;
      }
      if (end > limits.max_header_bytes) {
        reject(c, 431, fmt::format("the request head is over {} bytes", limits.max_header_bytes));
        return std::nullopt;
      }
      auto head_end = parse_head(c, end);
      if (!head_end) return std::nullopt;
      c.head_end = *head_end;
      c.chunk_pos = *head_end;
      c.in_trailer = false;
      c.phase = Phase::kBody;
      c.deadline = now + seconds(limits.body_timeout);
    }
    if (c.phase != Phase::kBody) return std::nullopt;
    if (!c.chunked) {
      if (c.buf.size() - c.head_end >= c.length) return c.head_end + c.length;
      return std::nullopt;
    }
    return frame_chunks(c);
  }

  // RFC 9112 section 3: method SP request-target SP HTTP-version, exactly.
  bool check_request_line(Conn& c, std::string_view line) {
    std::size_t a = line.find(' '), b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    std::string_view method = line.substr(0, a);
    std::string_view target = b == std::string_view::npos ? "" : line.substr(a + 1, b - a - 1);
    std::string_view version = b == std::string_view::npos ? "" : line.substr(b + 1);
    if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar) || target.empty() ||
        target.find_first_of(" \t") != std::string_view::npos || !version.starts_with("HTTP/") ||
        version.find(' ') != std::string_view::npos) {
      reject(c, 400, "a malformed request line (expected: METHOD /path HTTP/1.1)");
      return false;
    }
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
      reject(c, 505, "only HTTP/1.0 and HTTP/1.1 are served");
      return false;
    }
    static const std::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods)) {
      reject(c, 501, "unknown method (methods are case-sensitive: GET, POST, ...)");
      return false;
    }
    return true;
  }

  // Reads the framing headers of a head of `end` bytes and returns where the head ends
  // now (an Expect line answered here is cut out); answers 400/413/501 itself.
  std::optional<std::size_t> parse_head(Conn& c, std::size_t end) {
    std::string_view head(c.buf.data(), end);
    std::optional<std::uint64_t> length;
    std::string_view coding;
    bool has_coding = false, expect_continue = false;
    std::size_t expect_line = 0, expect_len = 0;
    if (!check_request_line(c, trim(head.substr(0, head.find('\n'))))) return std::nullopt;
    std::size_t pos = head.find('\n') + 1;
    while (pos < head.size()) {
      std::size_t nl = head.find('\n', pos);
      std::string_view raw = head.substr(pos, nl - pos);
      std::string_view line = trim(raw);
      std::size_t colon = line.find(':');
      // RFC 9112 section 5: no line folding, no whitespace before the colon; a proxy that
      // reads either differently could smuggle a request past this one.
      if (!line.empty() && (raw.front() == ' ' || raw.front() == '\t' || colon == std::string_view::npos || colon == 0 ||
                            line[colon - 1] == ' ' || line[colon - 1] == '\t')) {
        reject(c, 400, "a malformed header line (folded, or without 'name: value')");
        return std::nullopt;
      }
      if (!line.empty()) {
        std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
        if (!std::all_of(name.begin(), name.end(), is_tchar) ||
            std::any_of(value.begin(), value.end(), [](unsigned char ch) { return (ch < 0x20 && ch != '\t') || ch == 0x7F; })) {
          reject(c, 400, "a header name that is not a token, or a control character in a value (RFC 9110 section 5)");
          return std::nullopt;
        }
        if (iequals(name, "content-length")) {
          std::uint64_t v = 0;
          bool digits = !value.empty() && std::all_of(value.begin(), value.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
          if (digits && value.size() > 18) {  // more than any upload could be
            reject(c, 413, fmt::format("the body is over {} bytes", limits.max_body_bytes));
            return std::nullopt;
          }
          bool ok = digits;
          for (char ch : value) v = v * 10 + (ch - '0');
          if (!ok || (length && *length != v)) {
            reject(c, 400, "Content-Length must be one decimal number");
            return std::nullopt;
          }
          length = v;
        } else if (iequals(name, "transfer-encoding")) {
          if (has_coding) {  // several fields are one list (RFC 9110 section 5.3): refuse rather than guess
            reject(c, 400, "Transfer-Encoding given twice");
            return std::nullopt;
          }
          has_coding = true;
          coding = value;
        } else if (iequals(name, "expect") && iequals(value, "100-continue")) {
          expect_continue = true;
          expect_line = pos;
          expect_len = nl + 1 - pos;
        }
      }
      pos = nl + 1;
    }
    if (has_coding) {
      // RFC 9112 section 6.1: chunked must be the final coding; with Content-Length too
      // the message is a smuggling attempt or a broken proxy.
      std::string_view last = trim(coding.substr(coding.rfind(',') == std::string_view::npos ? 0 : coding.rfind(',') + 1));
      if (length) {
        reject(c, 400, "both Transfer-Encoding and Content-Length");
        return std::nullopt;
      }
      if (!iequals(last, "chunked") || coding.find(',') != std::string_view::npos) {
        reject(c, 501, "only Transfer-Encoding: chunked is supported");
        return std::nullopt;
      }
      c.chunked = true;
    } else {
      c.chunked = false;
      c.length = length.value_or(0);
      if (c.length > limits.max_body_bytes) {
        reject(c, 413, fmt::format("the body is over {} bytes", limits.max_body_bytes));
        return std::nullopt;
      }
    }
    // Memory for the body, held until the answer is written.
    std::uint64_t need = c.chunked ? limits.max_body_bytes : c.length;
    if (need > 0) {
      if (reserved + need > limits.max_buffered_bytes) {
        reject(c, 503, "too many uploads in progress; retry shortly");
        return std::nullopt;
      }
      reserved += need;
      c.reserved = need;
    }
    if (expect_continue) {
      // Answered here; httplib must not answer it a second time after the body.
      c.buf.erase(expect_line, expect_len);
      end -= expect_len;
      if (c.chunked || c.length > c.buf.size() - end) {
        static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
        [[maybe_unused]] auto n = ::send(c.fd, kContinue, sizeof(kContinue) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
    }
    return end;
  }

  // RFC 9112 section 7.1: chunk = size [; ext] CRLF data CRLF ... last-chunk trailer CRLF.
  std::optional<std::size_t> frame_chunks(Conn& c) {
    const std::string& b = c.buf;
    for (;;) {
      if (c.chunk_pos - c.head_end > limits.max_body_bytes + (64 << 10)) {
        reject(c, 413, fmt::format("the body is over {} bytes", limits.max_body_bytes));
        return std::nullopt;
      }
      std::size_t nl = b.find('\n', c.chunk_pos);
      if (nl == std::string::npos) {
        if (b.size() - c.chunk_pos > 4096) reject(c, 400, "a chunk-size line is too long");
        return std::nullopt;
      }
      std::string_view line = trim(std::string_view(b).substr(c.chunk_pos, nl - c.chunk_pos));
      if (c.in_trailer) {
        c.chunk_pos = nl + 1;
        if (line.empty()) return dechunk(c, c.chunk_pos);
        if (c.chunk_pos - c.head_end > limits.max_body_bytes + limits.max_header_bytes) {
          reject(c, 431, "the trailer is too large");
          return std::nullopt;
        }
        continue;
      }
      std::string_view hex = trim(line.substr(0, line.find(';')));
      std::uint64_t size = 0;
      bool ok = !hex.empty() && hex.size() <= 15;
      for (char ch : hex) {
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        ok &= d >= 0;
        size = size * 16 + static_cast<std::uint64_t>(std::max(d, 0));
      }
      if (!ok) {
        reject(c, 400, "a chunk size is not a hexadecimal number");
        return std::nullopt;
      }
      if (size > limits.max_body_bytes || (nl + 1 + size) - c.head_end > limits.max_body_bytes + (64 << 10)) {
        reject(c, 413, fmt::format("the body is over {} bytes", limits.max_body_bytes));
        return std::nullopt;
      }
      if (size == 0) {
        c.in_trailer = true;
        c.chunk_pos = nl + 1;
        continue;
      }
      std::size_t data_end = nl + 1 + size;
      if (b.size() < data_end + 2) return std::nullopt;
      if (b[data_end] != '\r' || b[data_end + 1] != '\n') {  // httplib would stop short there: refuse
        reject(c, 400, "chunk data is not followed by CRLF");
        return std::nullopt;
      }
      c.chunk_pos = data_end + 2;
    }
  }

  // Rewrites a complete chunked request [0, end) of c.buf as the same request with its
  // body decoded and a Content-Length (trailer fields dropped): httplib 0.11 reads
  // neither trailers nor a bare LF in chunked framing, and needs no framing at all now.
  // Returns the new end.
  std::size_t dechunk(Conn& c, std::size_t end) {
    const std::string& b = c.buf;
    std::string body;
    for (std::size_t pos = c.head_end;;) {
      std::size_t nl = b.find('\n', pos);
      std::string_view line = trim(std::string_view(b).substr(pos, nl - pos));
      std::uint64_t size = std::strtoull(std::string(line.substr(0, line.find(';'))).c_str(), nullptr, 16);
      if (size == 0) break;
      body.append(b, nl + 1, size);
      pos = nl + 1 + size + 2;  // data CRLF
    }
    std::string head;
    for (std::size_t pos = 0; pos < c.head_end;) {
      std::size_t nl = b.find('\n', pos);
      std::string_view line = std::string_view(b).substr(pos, nl + 1 - pos);
      std::string_view t = trim(line);
      bool last = t.empty();
      if (last) head += fmt::format("Content-Length: {}\r\n", body.size());
      if (!iequals(t.substr(0, t.find(':')), "transfer-encoding")) head += line;
      pos = nl + 1;
    }
    std::string request = head + body;
    c.buf.replace(0, end, request);
    return request.size();
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
      Conn c;
      c.fd = r.fd;
      c.buf = std::move(r.rest);
      c.idle_since = Clock::now();
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
    Conn c;
    c.fd = fd;
    give(std::move(c));
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
