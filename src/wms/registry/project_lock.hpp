// The project lock: one pipeline run (or production move) at a time per project.
//
// On one machine that is the workspace's file lock (util::FileLock on .wms/lock). With a
// shared PostgreSQL registry, workspaces on several machines are one project, so the
// lock is also a session-level advisory lock in that database, held on a connection of
// its own for as long as the ProjectLock lives. Its lease is the connection: a holder
// that exits, crashes or is killed with -9 closes it and the server releases the lock at
// once; a holder whose machine vanishes is dropped by the server's TCP keepalives and
// user timeout (set on that session: ~30 s), so no crashed holder blocks forever.
//
// Thread safety: one ProjectLock per holder; not shared between threads.
#pragma once

#include <memory>
#include <string>

#include "wms/data/workspace.hpp"
#include "wms/util/fs.hpp"

namespace wms::registry {

class Db;

class ProjectLock {
 public:
  /// Takes the workspace lock, then (with a PostgreSQL registry) the project's advisory
  /// lock; waits up to wait_seconds for each. Throws Conflict naming the holder (its
  /// application name: "wms <what> pid N on HOST", and since when) when another process
  /// holds it past the wait; what the registry connection throws otherwise.
  ProjectLock(const data::Workspace& ws, double wait_seconds, const std::string& what = "pipeline");
  ~ProjectLock();
  ProjectLock(const ProjectLock&) = delete;
  ProjectLock& operator=(const ProjectLock&) = delete;

  /// Seconds a vanished holder's lock outlives it on the server (keepalives + user timeout).
  static constexpr int kLeaseSeconds = 30;

 private:
  std::unique_ptr<util::FileLock> file_;
  std::unique_ptr<Db> session_;
};

}  // namespace wms::registry
