#include "wms/serve/http_stream.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace wms::serve {
namespace {

void addr_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if ((peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
            : getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len)) != 0)
    return;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&a), len, host, sizeof(host), serv, sizeof(serv),
                  NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(serv);
  }
}

}  // namespace

int ms_until(std::chrono::steady_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - std::chrono::steady_clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 1000));
}

bool BufferedStream::is_writable() const {
  pollfd p{fd_, POLLOUT, 0};
  return ::poll(&p, 1, ms_until(deadline())) > 0 && (p.revents & POLLOUT);
}

ssize_t BufferedStream::read(char* ptr, size_t size) {
  size_t n = std::min(size, data_.size() - pos_);
  std::memcpy(ptr, data_.data() + pos_, n);
  pos_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t BufferedStream::write(const char* ptr, size_t size) {
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

void BufferedStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  addr_of(fd_, true, ip, port);
}
void BufferedStream::get_local_ip_and_port(std::string& ip, int& port) const {
  addr_of(fd_, false, ip, port);
}

BufferedStream::Clock::time_point BufferedStream::deadline() const {
  if (deadline_ == Clock::time_point{}) deadline_ = Clock::now() + timeout_;
  return deadline_;
}

}  // namespace wms::serve
