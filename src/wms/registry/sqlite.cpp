// The registry's SQLite engine (see db.hpp).
#include <sqlite3.h>

#include "wms/registry/db.hpp"
#include "wms/util/error.hpp"

namespace wms::registry {
namespace {

class SqliteDb;

class SqliteStmt final : public StmtImpl {
 public:
  SqliteStmt(SqliteDb& db, const char* sql);
  ~SqliteStmt() override { sqlite3_finalize(s_); }
  void bind_int64(int i, std::int64_t v) override { sqlite3_bind_int64(s_, i, v); }
  void bind_double(int i, double v) override { sqlite3_bind_double(s_, i, v); }
  void bind_text(int i, const std::string& v) override {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_null(int i) override { sqlite3_bind_null(s_, i); }
  bool step() override;
  void reset() override {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::int64_t int64(int col) const override { return sqlite3_column_int64(s_, col); }
  double real(int col) const override { return sqlite3_column_double(s_, col); }
  std::string text(int col) const override {
    const unsigned char* t = sqlite3_column_text(s_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s_, col)) : std::string();
  }
  bool is_null(int col) const override { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  SqliteDb& db_;
  sqlite3_stmt* s_ = nullptr;
};

class SqliteDb final : public Db {
 public:
  SqliteDb(const std::string& path, int busy_timeout_ms) : path_(path) {
    int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw IoError(path, "open registry database: " + msg);
    }
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("PRAGMA foreign_keys=ON");
  }
  ~SqliteDb() override {
    if (db_) sqlite3_close_v2(db_);
  }

  Engine engine() const override { return Engine::kSqlite; }
  const std::string& name() const override { return path_; }
  sqlite3* raw() { return db_; }

  void exec(const std::string& sql) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (err) sqlite3_free(err);
    if (rc != SQLITE_OK) fail(rc, "statement failed: " + sql.substr(0, 60));
  }
  std::unique_ptr<StmtImpl> prepare(const char* sql) override { return std::make_unique<SqliteStmt>(*this, sql); }
  void begin() override { exec("BEGIN IMMEDIATE"); }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }
  int schema_version() override {
    SqliteStmt s(*this, "PRAGMA user_version");
    return s.step() ? static_cast<int>(s.int64(0)) : 0;
  }
  void set_schema_version(int v) override { exec("PRAGMA user_version = " + std::to_string(v)); }

  [[noreturn]] void fail(int rc, const std::string& what) {
    std::string msg = fmt::format("{}: {} ({})", path_, what, sqlite3_errmsg(db_));
    switch (rc & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED: throw Conflict("{}; another wms process kept the registry busy, try again", msg);
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB: throw Corrupt("{}: the registry database is damaged", msg);
      case SQLITE_FULL:
      case SQLITE_IOERR:
      case SQLITE_CANTOPEN:
      case SQLITE_READONLY: throw IoError(path_, msg);
      case SQLITE_CONSTRAINT: throw Conflict("{}", msg);
      default: throw Internal("{}", msg);
    }
  }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

SqliteStmt::SqliteStmt(SqliteDb& db, const char* sql) : db_(db) {
  int rc = sqlite3_prepare_v2(db.raw(), sql, -1, &s_, nullptr);
  if (rc != SQLITE_OK) db_.fail(rc, std::string("prepare: ") + sql);
}

bool SqliteStmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.fail(rc, "step");
}

}  // namespace

std::unique_ptr<Db> open_sqlite(const std::string& path, int busy_timeout_ms) {
  return std::make_unique<SqliteDb>(path, busy_timeout_ms);
}

}  // namespace wms::registry
