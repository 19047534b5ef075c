// The registry engine a test binary runs against. wms_tests: SQLite (a file per test).
// wms_postgres_tests: PostgreSQL, started once for the binary by tests/servers/postgres.sh
// (postgres_main.cpp), with a fresh database per test.
#pragma once

#include <string>

#include "testing.hpp"

namespace wms::testing {

/// True in the binary that runs against PostgreSQL ($WMS_TEST_PG_URL is set).
bool postgres_backend();

/// A fresh, empty registry location for one test: `dir`/r.db, or a new database on the
/// test server. For PostgreSQL it also sets WMS_REGISTRY_URL, so that workspaces opened
/// by the test (and wms processes it starts) use that database.
std::string fresh_registry(const TempDir& dir);

/// Runs SQL on the registry directly, as an older wms or another tool would.
void exec_sql(const std::string& location, const std::string& sql);

}  // namespace wms::testing
