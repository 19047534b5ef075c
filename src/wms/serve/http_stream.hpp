// The byte streams under httplib in `wms serve`'s HTTP server (private to serve/): a
// request the front read whole, handed to httplib's parser from memory, with the
// answer written to the socket under a deadline.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <string>

namespace wms::serve {

/// A request read whole, served to httplib from memory; the answer is written to the
/// socket before a deadline that runs from the first byte of the answer, not from the
/// request (a prediction may wait for the compute thread first). One thread at a time.
class BufferedStream : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;
  BufferedStream(int fd, const std::string& request, Clock::duration write_timeout)
      : fd_(fd), data_(request), timeout_(write_timeout) {}
  bool is_readable() const override { return pos_ < data_.size(); }
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  Clock::time_point deadline() const;
  int fd_;
  const std::string& data_;
  size_t pos_ = 0;
  Clock::duration timeout_;
  mutable Clock::time_point deadline_{};
};

/// httplib hands each accepted socket to its task queue; this one runs the hand-over to
/// the front on the accepting thread (it only queues the socket).
class InlineQueue : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

/// Milliseconds from now until t, clamped to 0..1000 (a poll(2) timeout).
int ms_until(std::chrono::steady_clock::time_point t);

}  // namespace wms::serve
