#include "wms/data/workspace.hpp"

#include "wms/util/error.hpp"

namespace wms::data {

Workspace::Workspace(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  if (fs::exists(config_path(), ec)) config_ = util::Config::load(config_path());
}

Workspace Workspace::open(const fs::path& dir) {
  std::error_code ec;
  fs::path root = fs::absolute(dir, ec);
  if (!fs::is_directory(root / ".wms", ec))
    throw NotFound("{}: not a wms workspace (no .wms/ folder); run `wms init {}` first", dir.string(), dir.string());
  return Workspace(root.lexically_normal());
}

Workspace Workspace::init(const fs::path& dir, const std::string& more_config) {
  util::make_dirs(dir);
  std::error_code ec;
  fs::path root = fs::absolute(dir, ec).lexically_normal();
  for (const char* sub : {".wms/cache/files/md5", ".wms/versions", ".wms/logs", ".wms/runs"})
    util::make_dirs(root / sub);
  if (!fs::exists(root / "wms.yaml", ec)) util::atomic_write(root / "wms.yaml", default_config_text() + more_config);
  // Like .dvc/.gitignore: the store, registry and runs stay out of git.
  if (!fs::exists(root / ".wms" / ".gitignore", ec)) util::atomic_write(root / ".wms" / ".gitignore", "*\n");
  Workspace ws(root);
  // Keep the pictures out of git, as `dvc add` does: git tracks the .dvc pointers.
  for (const fs::path& d : {ws.images_dir(), ws.masks_dir()}) {
    util::make_dirs(d);
    fs::path ignore = d.parent_path() / ".gitignore";
    std::string line = "/" + d.filename().string();
    std::string text = fs::exists(ignore, ec) ? util::read_file(ignore) : "";
    if (text.find(line + "\n") == std::string::npos) {
      if (!text.empty() && text.back() != '\n') text += '\n';
      util::atomic_write(ignore, text + line + "\n");
    }
  }
  return ws;
}

fs::path Workspace::images_dir() const {
  return root_ / config_.get_string("data.images", "data/images");
}
fs::path Workspace::masks_dir() const {
  return root_ / config_.get_string("data.masks", "data/masks");
}

std::unique_ptr<util::FileLock> Workspace::lock(double wait_seconds) const {
  return std::make_unique<util::FileLock>(wms_dir() / "lock", "the workspace " + root_.string(), wait_seconds);
}

std::string default_config_text() {
  return R"(# wms configuration. Every key is optional; the values below are the defaults.

data:
  images: data/images        # checked-out dataset folders (the original used WMS/data/training/images)
  masks: data/masks

split:                       # stable split by image content hash; changing it re-splits everything
  train: 0.8
  val: 0.1
  test: 0.1

validation:
  max_pixels: 64000000       # refuse larger images before decoding (decompression bombs)
  max_file_bytes: 52428800   # 50 MiB
  min_side: 64               # smallest allowed image side, in pixels
  mask_threshold: 127        # mask foreground = value >= 127
  grey_low: 16               # mid-grey band of a mask ...
  grey_high: 239
  max_grey_share: 0.01       # ... may cover at most 1% of its pixels
  min_foreground_pixels: 64  # fewer foreground pixels: empty mask
  min_foreground_share: 0.001
  max_foreground_share: 0.40
  max_regions: 1             # separate foreground regions allowed in a mask
  name_pattern: "^id_[0-9]+_value_[0-9]+_[0-9]+$"   # empty string: no name rule
  # severity:                # per-rule override: error | warning | off
  #   mask.regions: error
)";
}

}  // namespace wms::data
