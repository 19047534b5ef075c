// Running another program: argv only (posix_spawnp, never a shell), its stdout and
// stderr read as they come (line by line for logs), its stdin written and closed, and
// stopped on request (SIGTERM, then SIGKILL after a grace period). For ssh, sbatch,
// squeue and scancel, which wms drives as their users would.
//
// Starting one sets SIGPIPE to ignored for the process (a child that closed its stdin
// is an error from write, not a signal that kills wms).
// Thread safety: one Subprocess per thread; run_process may be called from any thread.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace wms::util {

struct ProcessResult {
  int exit_code = -1;  ///< 128 + signal when killed by one
  std::string out, err;
};

class Subprocess {
 public:
  /// Starts argv[0] (found in PATH) with stdin, stdout and stderr as pipes. Throws
  /// IoError naming the program when it cannot be started (not installed).
  explicit Subprocess(const std::vector<std::string>& argv);
  ~Subprocess();  ///< kills (SIGKILL) and reaps a child still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  /// Writes all of `data` to its stdin (throws IoError when it has closed it).
  void write_stdin(const std::string& data);
  void close_stdin();
  /// Reads stdout and stderr until both close, calling on_out/on_err with each complete
  /// line (without '\n'; a last line without one too), then reaps it and returns its
  /// exit code. Every 100 ms `should_stop` is asked: when it says true, the child gets
  /// SIGTERM, and SIGKILL `grace_seconds` later; `timeout_seconds` > 0 does the same
  /// past that time. Returns the exit code (128 + signal).
  int wait(const std::function<void(const std::string&)>& on_out, const std::function<void(const std::string&)>& on_err,
           const std::function<bool()>& should_stop = {}, double timeout_seconds = 0, double grace_seconds = 5);
  pid_t pid() const { return pid_; }
  /// Whether wait() ended it because of should_stop or the timeout.
  bool stopped() const { return stopped_; }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  bool stopped_ = false;
};

/// Runs argv to its end with `input` on its stdin; output captured whole. Throws
/// IoError when it cannot be started; a nonzero exit is in the result, not thrown.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = "",
                          double timeout_seconds = 0);

/// `arg` quoted for a POSIX shell ('...' with ' as '\''): for the one place a command
/// must pass through a shell, the command line ssh hands to the remote login shell.
std::string shell_quote(const std::string& arg);

}  // namespace wms::util
