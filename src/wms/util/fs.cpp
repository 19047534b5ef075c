#include "wms/util/fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <random>
#include <thread>

#include "wms/util/error.hpp"
#include "wms/util/failpoint.hpp"

namespace wms::util {
namespace {

void write_all(int fd, const char* data, std::size_t size, const fs::path& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(path.string(), "write", errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

fs::path temp_name(const fs::path& path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return path.parent_path() / fmt::format(".{}.tmp{:x}", path.filename().string(), rng() & 0xffffff);
}

// Writes via `fill(fd, tmp)` into a temp file, then commits it under `path`.
template <typename Fill>
void commit_via_temp(const fs::path& path, unsigned mode, Fill fill) {
  fs::path tmp = temp_name(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw IoError(tmp.string(), "create", errno);
  try {
    fill(fd, tmp);
    failpoint("atomic_write.before_fsync");
    if (::fsync(fd) != 0) throw IoError(tmp.string(), "fsync", errno);
    if (::fchmod(fd, mode) != 0) throw IoError(tmp.string(), "chmod", errno);
    if (::close(fd) != 0) {
      fd = -1;
      throw IoError(tmp.string(), "close", errno);
    }
    fd = -1;
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw IoError(path.string(), "rename", errno);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

}  // namespace

std::string read_file(const fs::path& path, std::uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path.string(), "open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw IoError(path.string(), "stat", err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(path.string(), "not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw IoError(path.string(), fmt::format("file is {} bytes, over the limit of {}", st.st_size, max_bytes));
  }
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw IoError(path.string(), "read", err);
    }
    if (n == 0) break;  // shrank while reading
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  ::close(fd);
  return out;
}

void atomic_write(const fs::path& path, std::string_view bytes, unsigned mode) {
  commit_via_temp(path, mode, [&](int fd, const fs::path& tmp) { write_all(fd, bytes.data(), bytes.size(), tmp); });
}

void atomic_copy(const fs::path& src, const fs::path& dst, unsigned mode) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw IoError(src.string(), "open", errno);
  try {
    commit_via_temp(dst, mode, [&](int fd, const fs::path& tmp) {
      char buf[1 << 16];
      for (;;) {
        ssize_t n = ::read(in, buf, sizeof buf);
        if (n < 0) {
          if (errno == EINTR) continue;
          throw IoError(src.string(), "read", errno);
        }
        if (n == 0) break;
        write_all(fd, buf, static_cast<std::size_t>(n), tmp);
      }
    });
  } catch (...) {
    ::close(in);
    throw;
  }
  ::close(in);
}

void append_line(const fs::path& path, std::string_view line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(path.string(), "open", errno);
  std::string buf(line);
  buf += '\n';
  try {
    write_all(fd, buf.data(), buf.size(), path);
    if (::fsync(fd) != 0) throw IoError(path.string(), "fsync", errno);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw IoError(dir.string(), "open directory", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) throw IoError(dir.string(), "fsync directory", err);
}

void make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError(dir.string(), "create directory: " + ec.message());
}

FileLock::FileLock(const fs::path& path, std::string_view what, double wait_seconds) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError(path.string(), "open lock", errno);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      ::close(fd_);
      throw IoError(path.string(), "lock", err);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(fd_);
      throw Conflict("{} is busy: another wms process holds {} (wait for it to finish)", what, path.string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace wms::util
