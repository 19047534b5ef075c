// The sample cache: every photo decoded (EXIF applied), resized to the model's input
// size and kept in memory as uint8 RGB, with its mask binarised (0/1) and resized, so
// each file is decoded once per run however many epochs read it. Keyed by the photo's
// content hash and the size. Built on every core; read-only (thread-safe) once built.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "wms/train/samples.hpp"

namespace wms::train {

/// The mask's values: background, the reading window, and background that the model
/// took for a window when it was mined (a hard negative: trained on as background, and
/// a share of the crops is placed on it; see CropOptions).
enum MaskValue : std::uint8_t { kBackground = 0, kWindow = 1, kHardNegative = 2 };

struct CachedSample {
  cv::Mat photo;  ///< CV_8UC3 RGB, size x size
  cv::Mat mask;   ///< CV_8UC1 MaskValue (the cache's own: 0/1), size x size
};

class SampleCache {
 public:
  /// Decodes and resizes every sample not yet cached at `size`. Throws ImageError
  /// naming the file if one cannot be decoded.
  void add(const std::vector<Sample>& samples, int size, unsigned threads);
  /// REQUIRES: add() was called with this sample and size.
  const CachedSample& get(const Sample& s, int size) const;
  std::size_t size() const { return items_.size(); }

 private:
  std::map<std::pair<std::string, int>, CachedSample> items_;
};

}  // namespace wms::train
