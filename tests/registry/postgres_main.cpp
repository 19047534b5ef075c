// main() of wms_postgres_tests: the registry suite (and the shared-registry tests)
// against a real PostgreSQL 15 server on 127.0.0.1, started once for the binary by
// tests/servers/postgres.sh and stopped at the end. Without PostgreSQL the binary
// exits 77, which ctest reports as skipped, with the reason on stderr.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "testing.hpp"
#include "wms/util/allocator.hpp"

int main(int argc, char** argv) {
  wms::util::configure_allocator();
  ::testing::InitGoogleTest(&argc, argv);
  setenv("WMS_PROGRESS", "0", 1);
  char tmpl[] = "/tmp/wms-pg-XXXXXX";
  if (!mkdtemp(tmpl)) return std::perror("mkdtemp"), 1;
  std::string dir = tmpl, script = std::string(WMS_SOURCE_DIR) + "/tests/servers/postgres.sh";
  auto start = wms::testing::run_shell(script + " start " + dir);
  if (start.exit_code != 0) {
    std::fprintf(stderr, "%s", start.err.c_str());
    std::system(("rm -rf " + dir).c_str());
    return start.exit_code == 77 ? 77 : 1;
  }
  auto eq = start.out.find("WMS_TEST_PG_URL=");
  auto end = start.out.find(' ', eq);
  std::string url = start.out.substr(eq + 16, end - eq - 16);
  setenv("WMS_TEST_PG_URL", url.c_str(), 1);
  std::fprintf(stderr, "PostgreSQL test server: %s (data in %s)\n", url.c_str(), dir.c_str());
  int rc = RUN_ALL_TESTS();
  wms::testing::run_shell(script + " stop " + dir);
  std::system(("rm -rf " + dir).c_str());
  return rc;
}
