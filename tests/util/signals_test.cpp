#include "wms/util/signals.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <chrono>
#include <thread>

namespace wms::util {
namespace {

// Runs `body` in a forked child (the handler is process-wide) and returns its wait status.
template <class F>
int in_child(F body) {
  pid_t pid = fork();
  if (pid == 0) {
    install_interrupt_handler();
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(Interrupt, TheSameRequestDeliveredTwiceStopsCleanly) {
  // What `timeout -s INT` does: the child, then its process group, at once.
  int st = in_child([] {
    kill(getpid(), SIGINT);
    kill(getpid(), SIGINT);
    return interrupted() ? 0 : 3;
  });
  ASSERT_TRUE(WIFEXITED(st)) << "killed by signal " << WTERMSIG(st);
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(Interrupt, ASecondPressLaterEndsAtOnce) {
  int st = in_child([] {
    kill(getpid(), SIGTERM);
    if (!interrupted()) return 3;
    std::this_thread::sleep_for(std::chrono::milliseconds(kRepeatWindowMs + 200));
    kill(getpid(), SIGINT);
    return 4;
  });
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGINT);
}

}  // namespace
}  // namespace wms::util
