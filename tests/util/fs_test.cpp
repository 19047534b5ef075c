#include "wms/util/fs.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "testing.hpp"
#include "wms/util/error.hpp"

namespace wms::util {
namespace {

using wms::testing::TempDir;

TEST(AtomicWrite, ReplacesContentAndLeavesNoTempFile) {
  TempDir t;
  atomic_write(t / "a.txt", "one");
  atomic_write(t / "a.txt", "two");
  EXPECT_EQ(read_file(t / "a.txt"), "two");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(t.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(AtomicWrite, FailureBeforeCommitKeepsOldContent) {
  TempDir t;
  atomic_write(t / "a.txt", "old");
  setenv("WMS_FAILPOINTS", "atomic_write.before_fsync", 1);
  EXPECT_THROW(atomic_write(t / "a.txt", "new"), IoError);
  unsetenv("WMS_FAILPOINTS");
  EXPECT_EQ(read_file(t / "a.txt"), "old");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(t.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1) << "the temp file must be removed";
}

TEST(AtomicWrite, ErrorNamesTheFileWhenFolderIsMissing) {
  TempDir t;
  try {
    atomic_write(t / "no" / "such" / "a.txt", "x");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("a.txt"), std::string::npos) << e.what();
  }
}

TEST(ReadFile, RefusesFilesOverTheLimit) {
  TempDir t;
  atomic_write(t / "big", std::string(100, 'x'));
  EXPECT_EQ(read_file(t / "big", 100).size(), 100u);
  EXPECT_THROW(read_file(t / "big", 99), IoError);
  EXPECT_THROW(read_file(t / "missing"), IoError);
}

TEST(AtomicCopy, CopiesBytesWithMode) {
  TempDir t;
  atomic_write(t / "src", "payload");
  atomic_copy(t / "src", t / "dst", 0444);
  EXPECT_EQ(read_file(t / "dst"), "payload");
  auto perms = std::filesystem::status(t / "dst").permissions();
  EXPECT_EQ(perms & std::filesystem::perms::owner_write, std::filesystem::perms::none);
}

TEST(FileLock, SecondHolderIsRefusedWithConflict) {
  TempDir t;
  FileLock a(t / "lock", "the workspace");
  // flock locks belong to the open file description: a second open conflicts even in
  // one process, as a second wms process would.
  EXPECT_THROW(FileLock(t / "lock", "the workspace", 0.1), Conflict);
}

TEST(FileLock, IsReleasedByTheDestructor) {
  TempDir t;
  { FileLock a(t / "lock", "x"); }
  EXPECT_NO_THROW(FileLock(t / "lock", "x"));
}

}  // namespace
}  // namespace wms::util
