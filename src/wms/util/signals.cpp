#include "wms/util/signals.hpp"

#include <unistd.h>
#include <atomic>
#include <csignal>
#include <ctime>

namespace wms::util {
namespace {

std::atomic<long long> g_first_ns{0};  ///< when the first signal came; 0: none yet

long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);                                       // async-signal-safe
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec + 1;  // never 0
}

extern "C" void on_signal(int sig) {
  long long now = now_ns(), first = 0;
  if (g_first_ns.compare_exchange_strong(first, now)) {
    const char msg[] = "\nwms: interrupted; finishing cleanly (press again to stop at once)\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    return;
  }
  // Supervisors often deliver one request twice: `timeout` signals the child and then its
  // whole process group, systemd signals every process of the unit. Only a signal that
  // comes a while after the first is a second request.
  if (now - first < kRepeatWindowMs * 1000000LL) return;
  std::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() {
  return g_first_ns.load() != 0;
}

}  // namespace wms::util
