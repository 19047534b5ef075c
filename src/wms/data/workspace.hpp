// A wms workspace on disk (DESIGN.md "Workspace on disk"), named here once, as
// LevelDB's db/filename.h names a database's files:
//   wms.yaml                     configuration
//   data/images/ data/masks/     the accepted dataset, checked out (paths: data.images, data.masks)
//   data/images.dvc data/masks.dvc   DVC 3.x pointer files (commit these to git)
//   .wms/cache/                  content-addressed objects (DVC cache layout)
//   .wms/versions/<id>.json      dataset versions (immutable)
//   .wms/HEAD                    the accepted dataset version (moved by renaming)
//   .wms/logs/HEAD.jsonl         every move of HEAD (append-only)
//   .wms/registry.db             the registry (SQLite)
//   .wms/runs/<run-id>/          run folders
//   .wms/submissions/<run>.json  batches that did not improve the model
//   .wms/leases/                 compute leases
//   .wms/lock                    the workspace lock
// A Workspace object is cheap; share it between threads read-only.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "wms/data/store.hpp"
#include "wms/util/config.hpp"
#include "wms/util/fs.hpp"

namespace wms::data {

namespace fs = std::filesystem;

class Workspace {
 public:
  /// Opens an existing workspace; throws NotFound if DIR has no wms.yaml and no .wms/.
  static Workspace open(const fs::path& dir);
  /// Creates wms.yaml (unless present: default_config_text() then `more_config`, e.g.
  /// the upper layers' commented defaults), .wms/ and data/.gitignore; idempotent.
  static Workspace init(const fs::path& dir, const std::string& more_config = "");

  const fs::path& root() const { return root_; }
  fs::path wms_dir() const { return root_ / ".wms"; }
  fs::path config_path() const { return root_ / "wms.yaml"; }
  const util::Config& config() const { return config_; }
  Store store() const { return Store(wms_dir() / "cache"); }
  fs::path versions_dir() const { return wms_dir() / "versions"; }
  fs::path head_file() const { return wms_dir() / "HEAD"; }
  fs::path head_log() const { return wms_dir() / "logs" / "HEAD.jsonl"; }
  fs::path registry_db() const { return wms_dir() / "registry.db"; }
  fs::path run_dir(const std::string& run_id) const { return wms_dir() / "runs" / run_id; }
  fs::path submissions_dir() const { return wms_dir() / "submissions"; }
  fs::path leases_dir() const { return wms_dir() / "leases"; }

  /// The checked-out dataset folders (config data.images / data.masks).
  fs::path images_dir() const;
  fs::path masks_dir() const;

  /// Exclusive lock for commands that change the workspace; waits up to wait_seconds.
  std::unique_ptr<util::FileLock> lock(double wait_seconds = 0) const;

 private:
  explicit Workspace(fs::path root);
  fs::path root_;
  util::Config config_;
};

/// The wms.yaml that `wms init` writes: every option with its default, commented.
std::string default_config_text();

}  // namespace wms::data
