// The library's wall clock: ISO times both ways, and a FakeClock that the registry
// (run ids and times) follows.
#include "wms/util/clock.hpp"

#include <gtest/gtest.h>

#include "testing.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/error.hpp"

namespace wms::util {
namespace {

TEST(Clock, IsoTimesRoundTripInUtc) {
  EXPECT_EQ(iso_time(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(iso_time(parse_iso_time("2026-03-01T12:00:00Z")), "2026-03-01T12:00:00Z");
  EXPECT_EQ(parse_iso_time("2026-03-01"), parse_iso_time("2026-03-01T00:00:00Z"));
  EXPECT_THROW(parse_iso_time("yesterday"), InvalidInput);
}

TEST(Clock, AFakeClockSetsTheTimeOfRunsAndTheirIds) {
  wms::testing::TempDir t;
  auto ws = data::Workspace::init(t / "ws");
  auto reg = registry::open(ws);
  {
    FakeClock clock(parse_iso_time("2030-01-02T03:04:05Z"));
    EXPECT_EQ(now_seconds(), parse_iso_time("2030-01-02T03:04:05Z"));
    EXPECT_EQ(utc_now("%Y%m%d-%H%M%S"), "20300102-030405");
    std::string id = reg.create_run({"train", "", "", "", ""});
    EXPECT_EQ(id.rfind("train-20300102-030405-", 0), 0u) << id;
    EXPECT_EQ(reg.find_run(id)->started, parse_iso_time("2030-01-02T03:04:05Z"));
    clock.advance(90);
    EXPECT_EQ(iso_time(now_seconds()), "2030-01-02T03:05:35Z");
  }
  EXPECT_GT(now_seconds(), parse_iso_time("2026-01-01"));  // back to the system clock
}

}  // namespace
}  // namespace wms::util
