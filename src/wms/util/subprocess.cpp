#include "wms/util/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include "wms/util/error.hpp"

extern char** environ;

namespace wms::util {
namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Subprocess::Subprocess(const std::vector<std::string>& argv) {
  if (argv.empty()) throw Internal("Subprocess: empty argv");
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw IoError(argv[0], "pipe", errno);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // a child of a thread that blocks signals gets them
  sigset_t dflt;
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);
  sigaddset(&dflt, SIGINT);
  sigaddset(&dflt, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawnp(&pid_, argv[0].c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  if (rc != 0) {
    close_fd(in_);
    close_fd(out_);
    close_fd(err_);
    pid_ = -1;
    throw IoError(argv[0], "start the program (is it installed?)", rc);
  }
  ::signal(SIGPIPE, SIG_IGN);  // a child that closes its stdin is an error from write, not a signal
}

Subprocess::~Subprocess() {
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void Subprocess::write_stdin(const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(in_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError("pid " + std::to_string(pid_), "write to its stdin", errno);
    done += static_cast<std::size_t>(n);
  }
}

void Subprocess::close_stdin() {
  close_fd(in_);
}

int Subprocess::wait(const std::function<void(const std::string&)>& on_out,
                     const std::function<void(const std::string&)>& on_err, const std::function<bool()>& should_stop,
                     double timeout_seconds, double grace_seconds) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  std::optional<Clock::time_point> term_sent;
  std::string buf[2];
  int fds[2] = {out_, err_};
  const std::function<void(const std::string&)>* sinks[2] = {&on_out, &on_err};
  auto emit = [&](int i, bool all) {
    std::size_t nl;
    while ((nl = buf[i].find('\n')) != std::string::npos) {
      if (*sinks[i]) (*sinks[i])(buf[i].substr(0, nl));
      buf[i].erase(0, nl + 1);
    }
    if (all && !buf[i].empty()) {
      if (*sinks[i]) (*sinks[i])(buf[i]);
      buf[i].clear();
    }
  };
  while (fds[0] >= 0 || fds[1] >= 0) {
    pollfd p[2];
    int n = 0;
    for (int i = 0; i < 2; ++i)
      if (fds[i] >= 0) p[n++] = {fds[i], POLLIN, 0};
    int r = ::poll(p, n, 100);
    if (r < 0 && errno != EINTR) break;
    for (int k = 0; k < n && r > 0; ++k) {
      if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int i = p[k].fd == fds[0] ? 0 : 1;
      char chunk[8192];
      ssize_t got = ::read(fds[i], chunk, sizeof chunk);
      if (got > 0) {
        buf[i].append(chunk, static_cast<std::size_t>(got));
        emit(i, false);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        emit(i, true);
        ::close(fds[i]);
        fds[i] = -1;
      }
    }
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    bool stop = (should_stop && should_stop()) || (timeout_seconds > 0 && elapsed > timeout_seconds);
    if (stop && !term_sent) {
      stopped_ = true;
      ::kill(pid_, SIGTERM);
      term_sent = Clock::now();
    } else if (term_sent && std::chrono::duration<double>(Clock::now() - *term_sent).count() > grace_seconds) {
      ::kill(pid_, SIGKILL);
    }
  }
  out_ = err_ = -1;
  close_fd(in_);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return decode_status(status);
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input, double timeout_seconds) {
  Subprocess p(argv);
  if (!input.empty()) {
    try {
      p.write_stdin(input);
    } catch (const IoError&) {  // it exited without reading: its output says why
    }
  }
  p.close_stdin();
  ProcessResult r;
  r.exit_code = p.wait([&](const std::string& l) { r.out += l + "\n"; },
                       [&](const std::string& l) { r.err += l + "\n"; }, {}, timeout_seconds);
  return r;
}

std::string shell_quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace wms::util
