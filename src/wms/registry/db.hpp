// The registry's SQL layer (private to registry/): one interface over two engines,
// SQLite (a file in the workspace, the default) and PostgreSQL (libpq, shared by
// several machines). registry.cpp writes its queries once, with `?` placeholders and
// SQL that both engines read the same way (ON CONFLICT upserts, RETURNING); only the
// schema's DDL differs (registry.cpp keeps both side by side).
//
// Every failure throws: IoError (can't open, disk full, connection lost), Conflict
// (busy past the timeout, a constraint), Corrupt (damaged, or not a wms registry),
// Denied (PostgreSQL refused the login). Messages name the database (a file path, or
// the URL without its password). Thread safety: one Db per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace wms::registry {

/// One prepared statement of an engine; see Stmt.
class StmtImpl {
 public:
  virtual ~StmtImpl() = default;
  virtual void bind_int64(int i, std::int64_t v) = 0;
  virtual void bind_double(int i, double v) = 0;
  virtual void bind_text(int i, const std::string& v) = 0;
  virtual void bind_null(int i) = 0;
  virtual bool step() = 0;
  virtual void reset() = 0;
  virtual std::int64_t int64(int col) const = 0;
  virtual double real(int col) const = 0;
  virtual std::string text(int col) const = 0;
  virtual bool is_null(int col) const = 0;
};

enum class Engine { kSqlite, kPostgres };

class Db {
 public:
  virtual ~Db() = default;
  virtual Engine engine() const = 0;
  /// Runs one or more statements without parameters (migrations).
  virtual void exec(const std::string& sql) = 0;
  /// Parameters are `?`, numbered from 1 in the order they appear.
  virtual std::unique_ptr<StmtImpl> prepare(const char* sql) = 0;
  /// A write transaction, serialised against every other writer of this registry
  /// (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN and a transaction-level advisory lock),
  /// so a read-then-write inside it sees no other writer in between.
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  /// How many migration steps have run (SQLite: PRAGMA user_version; PostgreSQL: the
  /// table wms_schema). 0 for an empty database.
  virtual int schema_version() = 0;
  /// Inside begin()/commit() only.
  virtual void set_schema_version(int v) = 0;
  /// For messages: the file, or the URL without a password.
  virtual const std::string& name() const = 0;
};

/// Opens (creating) a SQLite file in WAL mode with a busy timeout.
std::unique_ptr<Db> open_sqlite(const std::string& path, int busy_timeout_ms = 15000);

/// Connects to PostgreSQL. `url`: postgresql://[user@]host[:port]/dbname[?param=value...]
/// (libpq's URI form); the password comes from PGPASSWORD or ~/.pgpass (PGPASSFILE),
/// never from the URL (InvalidInput if it holds one: wms.yaml is committed to git).
/// `application_name` shows in pg_stat_activity (who holds a lock).
std::unique_ptr<Db> open_postgres(const std::string& url, const std::string& application_name = "wms");

/// True for postgresql:// and postgres:// URLs.
bool is_postgres_url(const std::string& location);

/// The URL with any password replaced by "***" (for messages and logs).
std::string redact_url(const std::string& url);

/// A statement: `Stmt s(db, "SELECT ... WHERE id = ?"); s.bind(1, id); while (s.step()) ...`.
class Stmt {
 public:
  Stmt(Db& db, const char* sql) : s_(db.prepare(sql)) {}
  Stmt(Db& db, const std::string& sql) : Stmt(db, sql.c_str()) {}

  Stmt& bind(int i, std::int64_t v) { return s_->bind_int64(i, v), *this; }
  Stmt& bind(int i, double v) { return s_->bind_double(i, v), *this; }
  Stmt& bind(int i, const std::string& v) { return s_->bind_text(i, v), *this; }
  Stmt& bind_null(int i) { return s_->bind_null(i), *this; }
  template <typename T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string(v)); }
  /// Binds NULL for an empty string (optional references).
  Stmt& bind_or_null(int i, const std::string& v) { return v.empty() ? bind_null(i) : bind(i, v); }

  /// Steps once: true when a row is available.
  bool step() { return s_->step(); }
  /// Steps to completion (for writes).
  void run() {
    while (step()) {
    }
  }
  /// For INSERT ... RETURNING <one integer column>: runs it and returns that value.
  std::int64_t run_returning() {
    if (!step()) throw std::logic_error("RETURNING gave no row");
    std::int64_t v = int64(0);
    run();
    return v;
  }
  void reset() { s_->reset(); }

  std::int64_t int64(int col) const { return s_->int64(col); }
  double real(int col) const { return s_->real(col); }
  std::string text(int col) const { return s_->text(col); }
  bool is_null(int col) const { return s_->is_null(col); }

 private:
  std::unique_ptr<StmtImpl> s_;
};

/// begin() ... commit(), rolled back if not committed (exception, early return).
class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) { db_.begin(); }
  ~Transaction() {
    if (!done_) db_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace wms::registry
