// Synthetic water-meter photos with masks of their reading window, for tests and the
// demo (wms never needs real photos to run).
//
// Each sample: a textured, unevenly lit background; a round meter with a dark reading
// window of digits, small dials and a rim, turned, tilted in perspective and scaled;
// blur and sensor noise; saved as JPEG. A share of the photos are stored as phones do:
// pixels rotated and an EXIF orientation tag (6, 3 or 8) that turns them back. Masks
// are grayscale JPEGs in the displayed frame. Names follow id_<N>_value_<A>_<B>.
// Deterministic: the same options give the same bytes. Uses every core.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace wms::data {

struct SynthOptions {
  int count = 100;
  std::uint64_t seed = 1;
  int long_side = 512;       ///< photo size: long side in pixels; short side 3/4 of it
  double exif_share = 0.25;  ///< share of photos stored rotated with an EXIF tag
  int first_id = 1;          ///< N of the first id_<N>_... name
  unsigned threads = 0;      ///< 0: every core
};

struct SynthResult {
  int written = 0;
  int with_exif = 0;
  double seconds = 0;
};

/// Writes out/images/*.jpg and out/masks/*.jpg (creates the folders).
SynthResult synthesize(const std::filesystem::path& out, const SynthOptions& options);

}  // namespace wms::data

namespace wms::data {

/// One flaw planted by synthesize_bad(): the rule it breaks and the file named.
struct PlantedFlaw {
  std::string rule;
  std::string file;  ///< "images/<name>" or "masks/<name>"
};

/// Writes a batch in which every pair or file breaks one known rule (truncated and
/// empty files, orphans, a mask drawn ignoring EXIF, a decompression bomb, noise
/// masks, duplicates...) and returns the flaws it planted, for tests and the demo.
std::vector<PlantedFlaw> synthesize_bad(const std::filesystem::path& out, std::uint64_t seed = 7);

}  // namespace wms::data
