#include "wms/util/parallel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace wms::util {
namespace {

TEST(ParallelFor, VisitsEveryIndexOnce) {
  std::vector<std::atomic<int>> hits(1000);
  parallel_for(hits.size(), 4, [&](std::size_t i) { ++hits[i]; });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ParallelFor, RethrowsAWorkerExceptionAfterJoin) {
  EXPECT_THROW(parallel_for(100, 3,
                            [](std::size_t i) {
                              if (i == 42) throw std::runtime_error("boom");
                            }),
               std::runtime_error);
}

TEST(ParallelFor, SeesAtLeastOneCore) {
  EXPECT_GE(available_cores(), 1u);
}

}  // namespace
}  // namespace wms::util
