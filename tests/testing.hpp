// Test helpers: a fresh temporary folder per test, and running the wms binary.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

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

/// Writes bytes to a file (creating folders).
void write_bytes(const fs::path& p, const std::string& bytes);

}  // namespace wms::testing
