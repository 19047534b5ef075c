// main() of wms_postgres_tests: the registry suite (and the shared-registry tests)
// against a real PostgreSQL 15 server on 127.0.0.1, started once for the binary by
// tests/servers/postgres.sh and stopped at the end (WMS_TEST_PG_URL names it; each
// test makes its own database). Without PostgreSQL the binary exits 77, which ctest
// reports as skipped, with the reason on stderr.
#include "testing.hpp"
#include "wms/util/allocator.hpp"

int main(int argc, char** argv) {
  wms::util::configure_allocator();
  return wms::testing::main_with_servers(argc, argv, {"postgres.sh"});
}
