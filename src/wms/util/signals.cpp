#include "wms/util/signals.hpp"

#include <atomic>
#include <csignal>
#include <unistd.h>

namespace wms::util {
namespace {

std::atomic<int> g_signals{0};

extern "C" void on_signal(int sig) {
  if (g_signals.fetch_add(1) >= 1) {
    std::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  const char msg[] = "\nwms: interrupted; finishing cleanly (press again to stop at once)\n";
  ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_signals.load() > 0; }

}  // namespace wms::util
