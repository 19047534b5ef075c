// The stable train/val/test split: a pure function of a photo's content hash.
//
// Adding data never moves an existing photo between splits and the test split only
// grows, because a photo's split depends on nothing but its own md5 (and the
// fractions). Duplicate photos share one md5, so they always land together.
#pragma once

#include <string>
#include <string_view>

namespace wms::util {
class Config;
template <class O>
class OptionTable;
}  // namespace wms::util

namespace wms::data {

/// Never renumber.
enum class Split { kTrain = 0, kVal = 1, kTest = 2 };
std::string split_name(Split s);

struct SplitFractions {
  double train = 0.8;  ///< the original's 80/10/10
  double val = 0.1;
  double test = 0.1;
};

/// split.train/val/test: each in [0,1] (util/options.hpp).
const util::OptionTable<SplitFractions>& split_option_table();
/// Reads split.train/val/test; they must be in [0,1] and sum to 1. Throws InvalidInput
/// naming the config and the key.
SplitFractions split_fractions(const util::Config& config);

/// REQUIRES: image_md5 is 32 hex digits. u = first 52 bits / 2^52; train if u < train,
/// val if u < train + val, else test.
Split split_of(std::string_view image_md5, const SplitFractions& f);

}  // namespace wms::data
