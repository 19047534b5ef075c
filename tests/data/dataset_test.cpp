#include "wms/data/dataset.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>

#include "testing.hpp"
#include "wms/data/ingest.hpp"
#include "wms/data/synth.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"

namespace wms::data {
namespace {

using wms::testing::TempDir;
namespace fs = std::filesystem;

// A workspace plus synthetic batches.
struct Fixture {
  TempDir t;
  Workspace ws = Workspace::init(t / "ws");
  ValidationOptions o;

  Fixture() { o.threads = 2; }
  fs::path batch(const std::string& name, int count, int first_id, std::uint64_t seed) {
    SynthOptions so;
    so.count = count;
    so.first_id = first_id;
    so.seed = seed;
    so.long_side = 128;
    synthesize(t / name, so);
    return t / name;
  }
  AddResult add(const fs::path& dir, bool accept = true) {
    auto lock = ws.lock();
    return add_batch(ws, BatchSource::from_dir(dir), o, "test", accept);
  }
  // Everything that must not change when an add fails.
  std::map<std::string, std::string> snapshot() {
    std::map<std::string, std::string> s;
    for (auto& e : fs::recursive_directory_iterator(ws.root())) {
      auto rel = fs::relative(e.path(), ws.root()).string();
      if (e.is_regular_file() && !rel.starts_with(".wms/cache") && rel != ".wms/lock")
        s[rel] = util::md5_file(e.path());
    }
    return s;
  }
};

TEST(DataAdd, CreatesAVersionHeadPointersAndWorkingCopy) {
  Fixture f;
  auto r = f.add(f.batch("b1", 10, 1, 1));
  ASSERT_TRUE(r.accepted) << r.validation.report.to_text();
  Dataset ds(f.ws);
  auto head = ds.head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->id, r.version->id);
  EXPECT_EQ(head->pairs, 10u);
  EXPECT_EQ(head->parent, "");
  EXPECT_TRUE(ds.working_state().clean());
  auto dvc = parse_dvc_file(util::read_file(f.ws.root() / "data" / "images.dvc"), "images.dvc");
  EXPECT_EQ(dvc.md5, head->images);
  EXPECT_EQ(dvc.nfiles, 10u);
  EXPECT_EQ(dvc.path, "images");
  // The .dir object is the listing of the checked-out folder.
  EXPECT_EQ(util::md5_hex(util::read_file(f.ws.store().object_path(head->images))) + ".dir", head->images);
  EXPECT_NE(util::read_file(f.ws.root() / "data" / ".gitignore").find("/images"), std::string::npos);
}

TEST(DataAdd, SecondBatchMakesAChildVersionAndDiffShowsIt) {
  Fixture f;
  auto v1 = *f.add(f.batch("b1", 8, 1, 1)).version;
  auto r2 = f.add(f.batch("b2", 5, 100, 2));
  ASSERT_TRUE(r2.accepted);
  EXPECT_EQ(r2.version->parent, v1.id);
  EXPECT_EQ(r2.version->pairs, 13u);
  Dataset ds(f.ws);
  EXPECT_EQ(ds.log().size(), 2u);
  auto d = ds.diff(v1, *r2.version);
  EXPECT_EQ(d.added.size(), 10u);  // 5 images + 5 masks
  EXPECT_TRUE(d.removed.empty());
  EXPECT_TRUE(d.changed.empty());
}

TEST(DataAdd, SameBatchTwiceAddsNothing) {
  Fixture f;
  auto b = f.batch("b1", 6, 1, 1);
  f.add(b);
  auto r = f.add(b);
  EXPECT_TRUE(r.validation.report.ok());
  EXPECT_EQ(r.validation.report.duplicate_images, 6u);  // the batch's pairs, all stored already
  EXPECT_EQ(r.validation.report.existing_images, 6u);   // the dataset before the batch
  EXPECT_EQ(r.validation.report.new_images, 0u);
  EXPECT_EQ(r.validation.report.total_images, 6u);
  EXPECT_FALSE(r.version);
  EXPECT_EQ(Dataset(f.ws).log().size(), 1u);
}

// The original's merge-and-validate outputs: total = existing (stored before) + new.
TEST(DataAdd, ExistingImagesCountsTheStoredDatasetAndDuplicatesHaveTheirOwnCount) {
  Fixture f;
  f.add(f.batch("b1", 8, 1, 1));
  auto b2 = f.batch("b2", 5, 100, 2);
  // One pair of the first batch again, under its own name: stored already, kept once.
  fs::path one = fs::directory_iterator(f.t / "b1/images")->path();
  fs::copy_file(one, b2 / "images" / one.filename());
  fs::copy_file(f.t / "b1/masks" / one.filename(), b2 / "masks" / one.filename());
  auto r = f.add(b2);
  ASSERT_TRUE(r.accepted) << r.validation.report.to_text();
  const Report& rep = r.validation.report;
  EXPECT_EQ(rep.existing_images, 8u);
  EXPECT_EQ(rep.new_images, 5u);
  EXPECT_EQ(rep.duplicate_images, 1u);
  EXPECT_EQ(rep.total_images, 13u);
  EXPECT_EQ(r.version->pairs, 13u);
}

// Camera dumps and `dvc add` trees keep pairs in sub-folders: they are paired by
// relative path, stored under that relpath (as DVC lists nested trees) and checked out.
TEST(DataAdd, NestedBatchIsStoredByRelativePathAndCheckedOut) {
  Fixture f;
  auto b = f.batch("b1", 6, 1, 1);
  int k = 0;
  for (auto& e : std::vector<fs::directory_entry>(fs::directory_iterator(b / "images"), {})) {
    if (k++ % 2) continue;
    auto stem = e.path().stem().string();
    fs::create_directories(b / "images/day2/cam a");
    fs::create_directories(b / "masks/day2/cam a");
    fs::rename(e.path(), b / "images/day2/cam a" / e.path().filename());
    for (auto& m : std::vector<fs::directory_entry>(fs::directory_iterator(b / "masks"), {}))
      if (m.path().stem() == stem) fs::rename(m.path(), b / "masks/day2/cam a" / m.path().filename());
  }
  auto r = f.add(b);
  ASSERT_TRUE(r.accepted) << r.validation.report.to_text();
  EXPECT_EQ(r.validation.report.new_images, 6u);
  Dataset ds(f.ws);
  auto head = *ds.head();
  EXPECT_EQ(head.pairs, 6u);
  int nested = 0;
  for (const auto& e : ds.images(head)) nested += e.relpath.starts_with("day2/cam a/");
  EXPECT_EQ(nested, 3);
  for (const auto& e : ds.images(head)) EXPECT_TRUE(fs::is_regular_file(f.ws.images_dir() / e.relpath)) << e.relpath;
  for (const auto& e : ds.masks(head)) EXPECT_TRUE(fs::is_regular_file(f.ws.masks_dir() / e.relpath)) << e.relpath;
  EXPECT_TRUE(ds.working_state().clean());
  auto samples = ds.samples(head);
  EXPECT_EQ(samples.size(), 6u);
  // A nested file that is not in the head is seen as untracked, not overlooked.
  util::atomic_write(f.ws.images_dir() / "day2/cam a/stray.jpg", "x");
  auto st = ds.working_state();
  ASSERT_EQ(st.untracked.size(), 1u);
  EXPECT_EQ(st.untracked[0], "images/day2/cam a/stray.jpg");
}

// Checkout removes only copies a version put there; the user's files stay, even a copy
// of a stored photo under a name no version has.
TEST(DataCheckout, KeepsUntrackedFilesAndRemovesOnlyWhatAVersionPutThere) {
  Fixture f;
  auto v1 = *f.add(f.batch("b1", 4, 1, 1)).version;
  auto v2 = *f.add(f.batch("b2", 3, 100, 2)).version;
  Dataset ds(f.ws);
  fs::path stored = ds.images(v1).front().relpath;
  fs::copy_file(f.ws.images_dir() / stored, f.ws.images_dir() / "extra.jpg");
  fs::create_directories(f.ws.images_dir() / "new");
  fs::copy_file(f.ws.images_dir() / stored, f.ws.images_dir() / "new/extra.jpg");
  util::atomic_write(f.ws.images_dir() / "notes.txt", "mine");
  ds.set_head(v1, "test");
  ds.checkout(v1);
  for (const char* mine : {"extra.jpg", "new/extra.jpg", "notes.txt"})
    EXPECT_TRUE(fs::exists(f.ws.images_dir() / mine)) << mine << " was the user's and is gone";
  std::set<std::string> in_v1;
  for (const auto& e : ds.images(v1)) in_v1.insert(e.relpath);
  for (const auto& e : ds.images(v2))
    EXPECT_EQ(fs::exists(f.ws.images_dir() / e.relpath), in_v1.count(e.relpath) == 1) << e.relpath;
  EXPECT_EQ(ds.working_state().untracked.size(), 3u);
}

TEST(DataAdd, RefusesSameNameWithDifferentContent) {
  Fixture f;
  auto b1 = f.batch("b1", 4, 1, 1);
  f.add(b1);
  // Same names, other pixels: the original silently overwrote these.
  auto other = f.batch("other", 4, 1, 99);
  std::vector<fs::path> names, others;
  for (auto& e : fs::directory_iterator(b1 / "images")) names.push_back(e.path().filename());
  for (auto& e : fs::directory_iterator(other / "images")) others.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  std::sort(others.begin(), others.end());
  for (std::size_t i = 0; i < names.size(); ++i)
    for (const char* side : {"images", "masks"})
      wms::testing::write_bytes(f.t / "b2" / side / names[i], util::read_file(other / side / others[i]));
  auto r = f.add(f.t / "b2");
  EXPECT_FALSE(r.validation.report.ok());
  bool conflict = false;
  for (const auto& i : r.validation.report.issues) conflict |= i.rule == "dataset.name_conflict";
  EXPECT_TRUE(conflict) << r.validation.report.to_text();
  EXPECT_EQ(Dataset(f.ws).log().size(), 1u);
}

TEST(DataAdd, DuplicatePhotoOfTheDatasetIsKeptOnceOrRefusedIfItsMaskDiffers) {
  Fixture f;
  auto b1 = f.batch("b1", 3, 1, 1);
  f.add(b1);
  std::vector<fs::path> imgs;
  for (auto& e : fs::directory_iterator(b1 / "images")) imgs.push_back(e.path());
  std::sort(imgs.begin(), imgs.end());
  std::string stem = imgs[0].stem().string();
  // Same photo and mask under a new name: a warning, stored once.
  wms::testing::write_bytes(f.t / "b2" / "images" / "id_500_value_1_1.jpg", util::read_file(imgs[0]));
  wms::testing::write_bytes(f.t / "b2" / "masks" / "id_500_value_1_1.jpg",
                            util::read_file(b1 / "masks" / (stem + ".jpg")));
  auto r = f.add(f.t / "b2");
  EXPECT_TRUE(r.validation.report.ok()) << r.validation.report.to_text();
  ASSERT_EQ(r.validation.report.issues.size(), 1u);
  EXPECT_EQ(r.validation.report.issues[0].rule, "dup.image");
  EXPECT_EQ(r.validation.report.new_images, 0u);
  // Same photo, another photo's mask: an error.
  wms::testing::write_bytes(f.t / "b3" / "images" / "id_501_value_1_1.jpg", util::read_file(imgs[0]));
  wms::testing::write_bytes(f.t / "b3" / "masks" / "id_501_value_1_1.jpg",
                            util::read_file(b1 / "masks" / (imgs[1].stem().string() + ".jpg")));
  auto r3 = f.add(f.t / "b3");
  bool conflict = false;
  for (const auto& i : r3.validation.report.issues)
    conflict |= i.rule == "dup.mask_conflict" || i.rule == "pair.size_mismatch";
  EXPECT_TRUE(conflict) << r3.validation.report.to_text();
}

TEST(Split, AddingDataNeverMovesAnOldImage) {
  Fixture f;
  f.add(f.batch("b1", 30, 1, 1));
  Dataset ds(f.ws);
  std::map<std::string, Split> before;
  for (const auto& s : ds.samples(*ds.head())) before[s.stem] = s.split;
  f.add(f.batch("b2", 30, 100, 2));
  auto after = ds.samples(*ds.head());
  EXPECT_EQ(after.size(), 60u);
  int old = 0;
  for (const auto& s : after)
    if (auto it = before.find(s.stem); it != before.end()) {
      EXPECT_EQ(it->second, s.split) << s.stem;
      ++old;
    }
  EXPECT_EQ(old, 30);
}

TEST(DataAdd, InvalidBatchChangesNothing) {
  Fixture f;
  f.add(f.batch("b1", 5, 1, 1));
  auto before = f.snapshot();
  synthesize_bad(f.t / "bad");
  auto r = f.add(f.t / "bad");
  EXPECT_FALSE(r.validation.report.ok());
  EXPECT_FALSE(r.version);
  EXPECT_EQ(f.snapshot(), before);
}

// An add that fails at any commit step leaves the previous version intact, and a
// rerun then succeeds.
TEST(DataAdd, FailureAtEachStepKeepsThePreviousVersion) {
  for (std::string point :
       {"store.after_put", "data_add.after_objects", "data_add.after_version", "atomic_write.before_fsync"}) {
    Fixture f;
    f.add(f.batch("b1", 5, 1, 1));
    auto b2 = f.batch("b2", 4, 100, 2);
    auto before = f.snapshot();
    auto head_before = Dataset(f.ws).head()->id;
    setenv("WMS_FAILPOINTS", point.c_str(), 1);
    EXPECT_THROW(f.add(b2), IoError) << point;
    unsetenv("WMS_FAILPOINTS");
    Dataset ds(f.ws);
    EXPECT_EQ(ds.head()->id, head_before) << point;
    EXPECT_TRUE(ds.working_state().clean()) << point;
    for (const auto& [file, md5] : before)
      if (!file.starts_with(".wms/versions")) EXPECT_EQ(f.snapshot()[file], md5) << point << " " << file;
    auto r = f.add(b2);
    EXPECT_TRUE(r.accepted) << point;
    EXPECT_EQ(ds.head()->pairs, 9u) << point;
    EXPECT_TRUE(ds.working_state().clean()) << point;
  }
}

TEST(DataCheckout, RestoresAnOlderVersionAndBack) {
  Fixture f;
  auto v1 = *f.add(f.batch("b1", 4, 1, 1)).version;
  auto v2 = *f.add(f.batch("b2", 3, 100, 2)).version;
  Dataset ds(f.ws);
  ds.set_head(v1, "checkout");
  ds.checkout(v1);
  EXPECT_TRUE(ds.working_state().clean());
  int n = 0;
  for (auto& e : fs::directory_iterator(f.ws.images_dir())) n += e.is_regular_file();
  EXPECT_EQ(n, 4);
  ds.set_head(v2, "checkout");
  ds.checkout(v2);
  EXPECT_TRUE(ds.working_state().clean());
}

TEST(DataCheckout, KeepsUntrackedFilesAndRepairsModifiedOnes) {
  Fixture f;
  f.add(f.batch("b1", 3, 1, 1));
  Dataset ds(f.ws);
  fs::path some;
  for (auto& e : fs::directory_iterator(f.ws.images_dir())) some = e.path();
  util::atomic_write(some, "scribbled over");
  util::atomic_write(f.ws.images_dir() / "mine.jpg", "user's own file");
  auto st = ds.working_state();
  EXPECT_EQ(st.modified.size(), 1u);
  EXPECT_EQ(st.untracked.size(), 1u);
  ds.checkout(*ds.head());
  st = ds.working_state();
  EXPECT_TRUE(st.modified.empty());
  EXPECT_EQ(util::read_file(f.ws.images_dir() / "mine.jpg"), "user's own file") << "nothing is lost";
}

TEST(Dataset, VersionRefsByPrefixAndHead) {
  Fixture f;
  auto v1 = *f.add(f.batch("b1", 3, 1, 1)).version;
  Dataset ds(f.ws);
  EXPECT_EQ(ds.get(v1.id.substr(0, 6)).id, v1.id);
  EXPECT_EQ(ds.get("head").id, v1.id);
  EXPECT_THROW(ds.get("ffffffffffff"), NotFound);
  EXPECT_THROW(ds.get("../../etc"), InvalidInput);
}

TEST(Dataset, CorruptObjectIsReportedNotUsed) {
  Fixture f;
  auto v1 = *f.add(f.batch("b1", 3, 1, 1)).version;
  fs::path obj = f.ws.store().object_path(v1.images);
  fs::permissions(obj, fs::perms::owner_write, fs::perm_options::add);
  util::atomic_write(obj, "[{\"md5\": \"00000000000000000000000000000000\", \"relpath\": \"a.jpg\"}]");
  EXPECT_THROW(Dataset(f.ws).images(v1), Corrupt);
}

}  // namespace
}  // namespace wms::data
