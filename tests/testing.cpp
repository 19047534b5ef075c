#include "testing.hpp"

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <fstream>
#include <random>

#include "wms/util/fs.hpp"

namespace wms::testing {

TempDir::TempDir() {
  std::random_device rd;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "wms";
  path_ = fs::temp_directory_path() / ("wms-test-" + name + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  // Store objects are read-only; make them writable so that remove_all succeeds.
  for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    fs::permissions(it->path(), fs::perms::owner_write, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

RunResult run_wms(const std::string& args, const std::string& env) {
  return run_shell("env " + env + " " + WMS_BIN + " " + args);
}

RunResult run_shell(const std::string& command) {
  TempDir tmp;
  std::string cmd =
      "export WMS_PROGRESS=0; " + command + " > " + (tmp / "out").string() + " 2> " + (tmp / "err").string();
  int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = util::read_file(tmp / "out");
  r.err = util::read_file(tmp / "err");
  return r;
}

std::string qp(const fs::path& p) {
  std::string out = "'";
  for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace wms::testing
