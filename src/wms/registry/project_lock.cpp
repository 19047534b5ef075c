#include "wms/registry/project_lock.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "wms/registry/db.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/error.hpp"

namespace wms::registry {
namespace {

// pg_try_advisory_lock's key for "the project": "wms.proj" as a big-endian int64.
constexpr std::int64_t kProjectKey = 0x776d732e70726f6a;

std::string host_name() {
  char buf[256] = {};
  return gethostname(buf, sizeof buf - 1) == 0 ? buf : "?";
}

// Who holds the project's advisory lock, from pg_locks and pg_stat_activity.
std::string holder(Db& db) {
  Stmt s(db,
         "SELECT a.application_name, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
         "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
         "AND l.classid = ? AND l.objid = ? AND l.objsubid = 1 LIMIT 1");
  s.bind(1, static_cast<std::int64_t>(static_cast<std::uint64_t>(kProjectKey) >> 32))
      .bind(2, static_cast<std::int64_t>(kProjectKey & 0xffffffff));
  if (!s.step()) return "another wms process";
  return fmt::format("'{}' (connected since {})", s.text(0), s.text(1));
}

}  // namespace

ProjectLock::ProjectLock(const data::Workspace& ws, double wait_seconds, const std::string& what)
    : file_(ws.lock(wait_seconds)) {
  std::string location = registry_location(ws);
  if (!is_postgres_url(location)) return;  // the registry is the workspace's file: its lock is enough
  session_ = open_postgres(location, fmt::format("wms {} pid {} on {}", what, ::getpid(), host_name()));
  // The lease: the server drops this session ~kLeaseSeconds after its machine stops answering.
  session_->exec(
      "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3; "
      "SET tcp_user_timeout = 30000");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
  for (;;) {
    Stmt s(*session_, "SELECT pg_try_advisory_lock(?)");
    s.bind(1, kProjectKey);
    if (s.step() && s.text(0) == "t") return;
    if (std::chrono::steady_clock::now() >= deadline)
      throw Conflict("the project's {} lock in {} is busy: held by {} (wait for it to finish)", what, session_->name(),
                     holder(*session_));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

ProjectLock::~ProjectLock() = default;  // closing the session releases the advisory lock

}  // namespace wms::registry
