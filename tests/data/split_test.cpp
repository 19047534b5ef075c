#include "wms/data/split.hpp"

#include <gtest/gtest.h>

#include <map>

#include "wms/util/config.hpp"
#include "wms/util/error.hpp"
#include "wms/util/hash.hpp"

namespace wms::data {
namespace {

TEST(Split, IsAPureFunctionOfTheHash) {
  SplitFractions f;
  std::string md5 = util::md5_hex("photo");
  EXPECT_EQ(split_of(md5, f), split_of(md5, f));
}

TEST(Split, FollowsTheFractions) {
  SplitFractions f;
  std::map<Split, int> n;
  for (int i = 0; i < 20000; ++i) ++n[split_of(util::md5_hex(std::to_string(i)), f)];
  EXPECT_NEAR(n[Split::kTrain] / 20000.0, 0.8, 0.015);
  EXPECT_NEAR(n[Split::kVal] / 20000.0, 0.1, 0.01);
  EXPECT_NEAR(n[Split::kTest] / 20000.0, 0.1, 0.01);
}

TEST(Split, BoundariesUseTheFirst52Bits) {
  SplitFractions f;
  EXPECT_EQ(split_of("00000000000000000000000000000000", f), Split::kTrain);
  EXPECT_EQ(split_of("cccccccccccc00000000000000000000", f), Split::kTrain);  // u just below 0.8
  EXPECT_EQ(split_of("cccccccccccd00000000000000000000", f), Split::kVal);    // u just above 0.8
  EXPECT_EQ(split_of("ffffffffffffffffffffffffffffffff", f), Split::kTest);
}

TEST(Split, FractionsMustSumToOne) {
  EXPECT_THROW(split_fractions(util::Config::parse("split: {train: 0.8, val: 0.1, test: 0.2}", "w")), InvalidInput);
  EXPECT_THROW(split_fractions(util::Config::parse("split: {train: 1.5, val: -0.5, test: 0}", "w")), InvalidInput);
  SplitFractions f = split_fractions(util::Config::parse("split: {train: 0.7, val: 0.15, test: 0.15}", "w"));
  EXPECT_DOUBLE_EQ(f.train, 0.7);
}

}  // namespace
}  // namespace wms::data
