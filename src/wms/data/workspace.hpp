// A wms workspace on disk (DESIGN.md "Workspace on disk"):
//   wms.yaml                     configuration
//   data/images/ data/masks/     the accepted dataset, checked out (paths: data.images, data.masks)
//   data/images.dvc data/masks.dvc   DVC 3.x pointer files (commit these to git)
//   .wms/cache/                  content-addressed objects (DVC cache layout)
//   .wms/versions/<id>.json      dataset versions (immutable)
//   .wms/HEAD                    the accepted dataset version (moved by renaming)
//   .wms/logs/HEAD.jsonl         every move of HEAD (append-only)
//   .wms/runs/<run-id>/          run folders
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
  /// Creates wms.yaml (unless present), .wms/ and data/.gitignore; idempotent.
  static Workspace init(const fs::path& dir);

  const fs::path& root() const { return root_; }
  fs::path wms_dir() const { return root_ / ".wms"; }
  fs::path config_path() const { return root_ / "wms.yaml"; }
  const util::Config& config() const { return config_; }
  Store store() const { return Store(wms_dir() / "cache"); }

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
