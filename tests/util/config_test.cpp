#include "wms/util/config.hpp"

#include <gtest/gtest.h>

#include "wms/util/error.hpp"

namespace wms::util {
namespace {

TEST(Config, MissingKeysTakeTheDefault) {
  Config c = Config::parse("validation:\n  min_side: 32\n", "wms.yaml");
  EXPECT_EQ(c.get_int("validation.min_side", 64), 32);
  EXPECT_EQ(c.get_int("validation.max_regions", 1), 1);
  EXPECT_EQ(c.get_string("data.images", "data/images"), "data/images");
  EXPECT_FALSE(c.has("validation.max_regions"));
  EXPECT_TRUE(c.has("validation.min_side"));
}

TEST(Config, WrongTypeNamesFileAndKey) {
  Config c = Config::parse("validation:\n  min_side: big\n", "wms.yaml");
  try {
    c.get_int("validation.min_side", 64);
    FAIL();
  } catch (const InvalidInput& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("wms.yaml"), std::string::npos) << m;
    EXPECT_NE(m.find("validation.min_side"), std::string::npos) << m;
  }
}

TEST(Config, ListsOfNumbers) {
  Config c = Config::parse("model:\n  scales: [1.0, 1.5]\n  one: 2\n  bad: [1, big]\n  map: {a: 1}\n", "wms.yaml");
  EXPECT_EQ(c.get_double_list("model.scales", {1.0}), (std::vector<double>{1.0, 1.5}));
  EXPECT_EQ(c.get_double_list("model.one", {1.0}), (std::vector<double>{2.0})) << "a number is a list of one";
  EXPECT_EQ(c.get_double_list("model.absent", {1.0}), (std::vector<double>{1.0}));
  try {
    c.get_double_list("model.bad", {});
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("model.bad.1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(c.get_double_list("model.map", {}), InvalidInput);
}

TEST(Config, SyntaxErrorNamesTheLine) {
  try {
    Config::parse("a: 1\nb: [unclosed\n", "wms.yaml");
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("wms.yaml: line"), std::string::npos) << e.what();
  }
}

TEST(Config, TopLevelMustBeAMapping) {
  EXPECT_THROW(Config::parse("- a\n- b\n", "x.yaml"), InvalidInput);
  EXPECT_NO_THROW(Config::parse("", "empty.yaml"));
}

TEST(Config, ReadingDoesNotChangeTheDocument) {
  Config c = Config::parse("a:\n  b: 1\n", "x");
  EXPECT_EQ(c.get_int("a.c.d", 5), 5);
  EXPECT_FALSE(c.has("a.c"));
  EXPECT_EQ(c.get_int("a.b", 0), 1);
}

}  // namespace
}  // namespace wms::util
