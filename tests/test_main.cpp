#include <gtest/gtest.h>

#include <cstdlib>

#include "wms/util/allocator.hpp"

int main(int argc, char** argv) {
  wms::util::configure_allocator();
  ::testing::InitGoogleTest(&argc, argv);
  setenv("WMS_PROGRESS", "0", 1);
  return RUN_ALL_TESTS();
}
