#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  setenv("WMS_PROGRESS", "0", 1);
  return RUN_ALL_TESTS();
}
