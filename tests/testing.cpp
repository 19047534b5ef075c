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

int main_with_servers(int argc, char** argv, const std::vector<std::string>& scripts) {
  ::testing::InitGoogleTest(&argc, argv);
  setenv("WMS_PROGRESS", "0", 1);
  TempDir dir;
  std::string servers = std::string(WMS_SOURCE_DIR) + "/tests/servers/";
  std::vector<std::string> started;
  auto stop_all = [&] {
    for (const auto& s : started) run_shell(servers + s + " stop " + qp(dir / s));
  };
  for (const auto& s : scripts) {
    auto r = run_shell(servers + s + " start " + qp(dir / s));
    if (r.exit_code != 0) {
      stop_all();
      std::fprintf(stderr, "%s%s: %s%s", r.exit_code == 77 ? "SKIPPED: " : "", s.c_str(), r.out.c_str(), r.err.c_str());
      return r.exit_code == 77 ? 77 : 1;
    }
    started.push_back(s);
    // "export A=1 B=2 ...": values hold no spaces.
    std::string line = r.out.substr(r.out.find("export ") + 7);
    for (std::size_t b = 0; b < line.size();) {
      auto e = line.find_first_of(" \n", b);
      if (e == std::string::npos) e = line.size();
      std::string kv = line.substr(b, e - b);
      if (auto eq = kv.find('='); eq != std::string::npos)
        setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
      b = e + 1;
    }
  }
  setenv("AWS_SHARED_CREDENTIALS_FILE", (dir / "no-credentials-file").c_str(), 1);
  setenv("AWS_CONFIG_FILE", (dir / "no-config-file").c_str(), 1);
  int rc = RUN_ALL_TESTS();
  stop_all();
  return rc;
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
