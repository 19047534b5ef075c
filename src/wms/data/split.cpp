#include "wms/data/split.hpp"

#include <cmath>
#include <cstdint>

#include "wms/util/config.hpp"
#include "wms/util/error.hpp"
#include "wms/util/options.hpp"

namespace wms::data {

std::string split_name(Split s) {
  switch (s) {
    case Split::kTrain: return "train";
    case Split::kVal: return "val";
    case Split::kTest: return "test";
  }
  return "train";
}

const util::OptionTable<SplitFractions>& split_option_table() {
  using util::Range;
  static const auto t =
      util::OptionTable<SplitFractions>()
          .add("split.train", "train", WMS_MEMBER(train), "share of images trained on", Range::closed(0, 1))
          .add("split.val", "val", WMS_MEMBER(val), "share that picks the epoch", Range::closed(0, 1))
          .add("split.test", "test", WMS_MEMBER(test), "share the gate scores", Range::closed(0, 1));
  return t;
}

SplitFractions split_fractions(const util::Config& c) {
  SplitFractions f;
  split_option_table().read(f, c);
  if (std::fabs(f.train + f.val + f.test - 1.0) > 1e-6)
    throw InvalidInput("{}: split.train + split.val + split.test must be 1 (got {})", c.source(),
                       f.train + f.val + f.test);
  return f;
}

Split split_of(std::string_view md5, const SplitFractions& f) {
  std::uint64_t x = 0;
  for (int i = 0; i < 13; ++i) {
    char c = md5[i];
    x = (x << 4) | static_cast<std::uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  double u = static_cast<double>(x) / static_cast<double>(std::uint64_t{1} << 52);
  if (u < f.train) return Split::kTrain;
  if (u < f.train + f.val) return Split::kVal;
  return Split::kTest;
}

}  // namespace wms::data
