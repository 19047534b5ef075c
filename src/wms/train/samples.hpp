// What training and evaluation read: image/mask pairs with their split, from a
// dataset version of a workspace (files in the content store) or from a folder.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "wms/data/dataset.hpp"
#include "wms/data/rules.hpp"
#include "wms/data/split.hpp"

namespace wms::train {

namespace fs = std::filesystem;

struct Sample {
  std::string stem;
  std::string image_md5;  ///< identity of the photo (cache key, split key)
  fs::path image;
  fs::path mask;
  data::Split split = data::Split::kTrain;
};

/// The pairs of a dataset version; files are read from the content store.
std::vector<Sample> samples_from_version(const data::Workspace& ws, const data::Version& v);

/// The pairs of a folder with images/ and masks/, validated first (throws InvalidInput
/// with the report's first error if the folder is invalid) and split by content hash.
std::vector<Sample> samples_from_dir(const fs::path& dir, const data::SplitFractions& fractions,
                                     const data::ValidationOptions& validation);

/// The samples of one split.
std::vector<Sample> only(const std::vector<Sample>& all, data::Split split);

}  // namespace wms::train
