// Validating a batch of photos and masks, alone or against the current dataset.
//
// validate_batch() pairs images/<path>.<ext> with masks/<path>.<ext> by relative path
// (sub-folders included, as DVC lists nested trees), checks every file
// and every pair against the rules in rules.hpp, and cross-checks the batch with the
// dataset it would join (name conflicts, duplicates, a second mask for the same photo).
// It never changes anything: the outcome is a Report plus the pairs that passed.
// Files are read on all cores; the function is safe to call from several threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "wms/data/dvc.hpp"
#include "wms/data/report.hpp"
#include "wms/data/rules.hpp"

namespace wms::data {

namespace fs = std::filesystem;

/// Where a batch is: a folder holding images/ and masks/, or two folders.
struct BatchSource {
  fs::path images_dir;
  fs::path masks_dir;
  std::string label;  ///< shown in the report

  /// DIR/images and DIR/masks.
  static BatchSource from_dir(const fs::path& dir);
};

/// The dataset a batch would join (empty by default).
struct ExistingDataset {
  Listing images;
  Listing masks;
  /// Reads a stored object's bytes by md5 (to compare masks of duplicate photos).
  std::function<std::string(const std::string& md5)> read_object;
};

/// The pairing key of a '/'-separated relative path: the extension of its last part
/// removed ("day2/x.jpg" -> "day2/x"; "v1.2/x" stays). Images and masks pair by it.
std::string pair_key(std::string_view relpath);

/// True for a file or folder name that a batch scan skips by the documented rule (README,
/// "Validation rules"): dot-files and dot-folders (.DS_Store, .git, AppleDouble ._x) and
/// OS junk (Thumbs.db, ehthumbs.db, desktop.ini, __MACOSX, Icon\r), any case.
bool ignored_by_rule(std::string_view name);

struct PairFile {
  std::string name;  ///< relative path in its folder, '/'-separated: "a.jpg", "day2/a.jpg"
  fs::path path;
  std::string md5;
  std::uint64_t size = 0;
};

/// Never renumber.
enum class PairStatus { kNew = 0, kExisting = 1, kDuplicate = 2 };

struct ValidPair {
  std::string stem;  ///< pair_key of the image: "a", "day2/a"
  PairFile image;
  PairFile mask;
  PairStatus status = PairStatus::kNew;
};

struct Validation {
  Report report;
  std::vector<ValidPair> pairs;  ///< pairs without errors, sorted by stem
};

/// Throws NotFound if a folder is missing; everything about the files is in the report.
Validation validate_batch(const BatchSource& batch, const ExistingDataset& existing, const ValidationOptions& options);

}  // namespace wms::data
