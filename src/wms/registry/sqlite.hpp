// A thin RAII layer over the SQLite C API for the registry (private to registry/).
// Every failure throws: Io (can't open/write), Conflict (busy after the timeout),
// Corrupt (database damaged). One Db per thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace wms::registry {

class Db;

class Stmt {
 public:
  Stmt(Db& db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, double v);
  Stmt& bind(int i, const std::string& v);
  Stmt& bind_null(int i);
  template <typename T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string(v)); }

  /// Steps once: true when a row is available.
  bool step();
  /// Steps to completion (for writes).
  void run();
  void reset();

  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  bool is_null(int col) const;

 private:
  Db& db_;
  sqlite3_stmt* s_ = nullptr;
};

class Db {
 public:
  /// Opens (creating) the database in WAL mode with a busy timeout.
  explicit Db(const std::filesystem::path& path, int busy_timeout_ms = 15000);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql);
  std::int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* raw() { return db_; }
  const std::filesystem::path& path() const { return path_; }
  [[noreturn]] void fail(int rc, const std::string& what);

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

/// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed (exception, early return).
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace wms::registry
