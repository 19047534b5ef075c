// The registry's PostgreSQL engine through libpq (see db.hpp). Statements are sent with
// PQexecParams (text parameters; the server infers their types from the columns), one
// round trip each; a result is read whole.
//
// Writers are serialised by a transaction-level advisory lock (the same key in every
// process that uses this database as a registry), the PostgreSQL form of SQLite's
// BEGIN IMMEDIATE: a read-then-write in one transaction (move an alias that must still
// point where the gate saw it; draw a run id not yet taken) sees no writer in between.
#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "wms/registry/db.hpp"
#include "wms/util/error.hpp"

namespace wms::registry {
namespace {

// pg_advisory_xact_lock's key for "a registry write": "wms.reg." as a big-endian int64.
constexpr const char* kWriteLock = "8605661106299823918";
// How long a writer waits for another one (SQLite's busy timeout).
constexpr const char* kLockTimeout = "15s";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// `?` -> `$1`, `$2`, ... outside quoted literals and identifiers.
std::string number_placeholders(const char* sql) {
  std::string out;
  int n = 0;
  char quote = 0;
  for (const char* p = sql; *p; ++p) {
    if (quote) {
      if (*p == quote) quote = 0;
    } else if (*p == '\'' || *p == '"') {
      quote = *p;
    } else if (*p == '?') {
      out += '$' + std::to_string(++n);
      continue;
    }
    out += *p;
  }
  return out;
}

class PostgresDb final : public Db {
 public:
  PostgresDb(const std::string& url, const std::string& application_name) : name_(redact_url(url)) {
    refuse_password(url);
    // Defaults first: the URL's own parameters override them (expand_dbname).
    const char* keys[] = {"connect_timeout",     "application_name", "keepalives", "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "dbname",     nullptr};
    const char* values[] = {"10", application_name.c_str(), "1", "10", "5", "3", url.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (!conn_) throw Internal("{}: libpq could not allocate a connection", name_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = trim(PQerrorMessage(conn_));
      PQfinish(conn_);
      conn_ = nullptr;
      if (msg.find("password") != std::string::npos || msg.find("authentication") != std::string::npos)
        throw Denied("{}: PostgreSQL refused the login: {} (the password comes from PGPASSWORD or ~/.pgpass)", name_,
                     msg);
      if (msg.find("does not exist") != std::string::npos)
        throw NotFound("{}: {} (create it: createdb, or CREATE DATABASE)", name_, msg);
      throw Unavailable("{}: cannot connect to the registry: {}", name_, msg);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);  // "already exists, skipping"
  }
  ~PostgresDb() override {
    if (conn_) PQfinish(conn_);
  }

  Engine engine() const override { return Engine::kPostgres; }
  const std::string& name() const override { return name_; }

  void exec(const std::string& sql) override { check(Result(PQexec(conn_, sql.c_str())), sql); }
  std::unique_ptr<StmtImpl> prepare(const char* sql) override;
  void begin() override {
    exec(std::string("BEGIN; SET LOCAL lock_timeout = '") + kLockTimeout + "'; SELECT pg_advisory_xact_lock(" +
         kWriteLock + ")");
  }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override {
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) PQclear(PQexec(conn_, "ROLLBACK"));
  }
  int schema_version() override {
    // pg_class read as a table, under this statement's snapshot (read committed: fresh
    // after the advisory lock was granted). Not to_regclass(): its catalog cache is not
    // refreshed by taking an advisory lock, so a process that waited for another's
    // migration saw no wms_schema and ran it again ("relation runs already exists").
    Result r = check(Result(PQexec(conn_,
                                   "SELECT EXISTS(SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = "
                                   "current_schema() AND tablename = 'wms_schema')")),
                     "schema version");
    if (std::strcmp(PQgetvalue(r.get(), 0, 0), "t") != 0) return 0;
    Result v = check(Result(PQexec(conn_, "SELECT max(version) FROM wms_schema")), "schema version");
    return PQgetisnull(v.get(), 0, 0) ? 0 : std::atoi(PQgetvalue(v.get(), 0, 0));
  }
  void set_schema_version(int v) override {
    exec(
        "CREATE TABLE IF NOT EXISTS wms_schema(version INTEGER NOT NULL); DELETE FROM wms_schema; "
        "INSERT INTO wms_schema VALUES(" +
        std::to_string(v) + ")");
  }

  /// Runs a statement with text parameters (nullptr = NULL).
  Result run(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    return check(Result(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                     nullptr, nullptr, 0)),
                 sql);
  }

 private:
  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  void refuse_password(const std::string& url) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
    if (!opts) {
      std::string msg = err ? trim(err) : "out of memory";
      PQfreemem(err);
      throw InvalidInput("registry.url '{}': {} (expected postgresql://user@host:port/dbname)", name_, msg);
    }
    bool has_password = false;
    for (auto* o = opts; o->keyword; ++o)
      if (std::strcmp(o->keyword, "password") == 0 && o->val && *o->val) has_password = true;
    PQconninfoFree(opts);
    if (has_password)
      throw InvalidInput(
          "registry.url '{}' holds a password; wms.yaml is shared, so give the password in PGPASSWORD or "
          "~/.pgpass instead",
          name_);
  }

  // Throws for a failed result, by SQLSTATE class.
  Result check(Result r, const std::string& what) {
    ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    std::string code = state ? state : "";
    std::string msg = fmt::format("{}: {} ({})", name_, trim(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_)),
                                  what.substr(0, 60));
    if (PQstatus(conn_) == CONNECTION_BAD || code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0)
      throw Unavailable("{}: lost the connection to the registry, try again", msg);
    if (code == "55P03" || code == "40001" || code == "40P01")
      throw Conflict("{}; another wms process kept the registry busy, try again", msg);
    if (code.rfind("23", 0) == 0) throw Conflict("{}", msg);
    if (code.rfind("XX00", 0) == 0) throw Corrupt("{}: the registry database is damaged", msg);
    if (code.rfind("53", 0) == 0) throw IoError(name_, msg);
    if (code.rfind("28", 0) == 0 || code == "42501") throw Denied("{}", msg);
    throw Internal("{}", msg);
  }

  PGconn* conn_ = nullptr;
  std::string name_;
};

class PostgresStmt final : public StmtImpl {
 public:
  PostgresStmt(PostgresDb& db, const char* sql) : db_(db), sql_(number_placeholders(sql)) {}
  void bind_int64(int i, std::int64_t v) override { param(i) = std::to_string(v); }
  void bind_double(int i, double v) override { param(i) = fmt::format("{}", v); }
  void bind_text(int i, const std::string& v) override { param(i) = v; }
  void bind_null(int i) override { param(i) = std::nullopt; }
  bool step() override {
    if (!result_) {
      result_ = db_.run(sql_, params_);
      row_ = -1;
    }
    return ++row_ < PQntuples(result_.get());
  }
  void reset() override {
    result_.reset();
    params_.clear();
  }
  std::int64_t int64(int col) const override { return std::strtoll(value(col), nullptr, 10); }
  double real(int col) const override { return std::strtod(value(col), nullptr); }
  std::string text(int col) const override { return std::string(value(col), PQgetlength(result_.get(), row_, col)); }
  bool is_null(int col) const override { return PQgetisnull(result_.get(), row_, col); }

 private:
  std::optional<std::string>& param(int i) {
    if (static_cast<int>(params_.size()) < i) params_.resize(i);
    return params_[i - 1];
  }
  const char* value(int col) const { return PQgetvalue(result_.get(), row_, col); }

  PostgresDb& db_;
  std::string sql_;
  std::vector<std::optional<std::string>> params_;
  Result result_;
  int row_ = -1;
};

std::unique_ptr<StmtImpl> PostgresDb::prepare(const char* sql) {
  return std::make_unique<PostgresStmt>(*this, sql);
}

}  // namespace

bool is_postgres_url(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string redact_url(const std::string& url) {
  std::string out = url;
  auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    auto at = out.find('@', scheme + 3);
    auto slash = out.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      auto colon = out.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (auto p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    auto end = out.find('&', p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "***");
  }
  return out;
}

std::unique_ptr<Db> open_postgres(const std::string& url, const std::string& application_name) {
  return std::make_unique<PostgresDb>(url, application_name);
}

}  // namespace wms::registry
