// Test helpers: a fresh temporary folder per test, and running the wms binary.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace wms::testing {

namespace fs = std::filesystem;

/// A fresh folder under the system temp dir, removed when the test ends.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& s) const { return path_ / s; }

 private:
  fs::path path_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// Runs `wms <args>` (args are passed to /bin/sh; quote them). env is prefixed.
RunResult run_wms(const std::string& args, const std::string& env = "");

/// Runs a shell command line (stdout/stderr captured), with WMS_PROGRESS=0.
RunResult run_shell(const std::string& command);

/// A path quoted for /bin/sh.
std::string qp(const fs::path& p);

/// The whole main() of a test binary that needs real servers: starts each of
/// tests/servers/<script> (postgres.sh, swift_s3.sh, sshd.sh, slurm.sh, moto_s3.sh) in
/// a temporary folder, applies each one's export line to this process's environment
/// (so wms processes the tests start see it too), points the AWS CLI's credential
/// files at nothing (only the servers' keys count), runs the tests, and stops the
/// servers. A script that exits 77 (what it needs is missing) makes the binary exit 77,
/// which ctest reports as skipped, with the script's reason on stderr.
int main_with_servers(int argc, char** argv, const std::vector<std::string>& scripts);

/// Writes bytes to a file (creating folders).
void write_bytes(const fs::path& p, const std::string& bytes);

}  // namespace wms::testing
