#include "registry/backend.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

namespace wms::testing {
namespace {

void exec_postgres(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, sql.c_str());
  ExecStatusType st = PQresultStatus(r);
  EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << sql << ": " << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
}

}  // namespace

bool postgres_backend() {
  const char* url = std::getenv("WMS_TEST_PG_URL");
  return url && *url;
}

std::string fresh_registry(const TempDir& dir) {
  if (!postgres_backend()) return (dir / "r.db").string();
  static int counter = 0;
  std::string server = std::getenv("WMS_TEST_PG_URL");
  std::string db = fmt::format("t{}_{}", ::getpid(), ++counter);
  exec_postgres(server + "/postgres", "CREATE DATABASE " + db);
  std::string url = server + "/" + db;
  setenv("WMS_REGISTRY_URL", url.c_str(), 1);
  return url;
}

void exec_sql(const std::string& location, const std::string& sql) {
  if (location.rfind("postgresql://", 0) == 0) return exec_postgres(location, sql);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(location.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

}  // namespace wms::testing
