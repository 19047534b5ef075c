#include "wms/data/synth.hpp"

#include <gtest/gtest.h>

#include <map>

#include "testing.hpp"
#include "wms/image/header.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"

namespace wms::data {
namespace {

using wms::testing::TempDir;
namespace fs = std::filesystem;

std::map<std::string, std::string> hashes(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = util::md5_file(e.path());
  return out;
}

TEST(Synth, SameSeedSameBytesWhateverTheThreads) {
  TempDir t;
  SynthOptions o;
  o.count = 12;
  o.long_side = 128;
  o.threads = 1;
  synthesize(t / "a", o);
  o.threads = 2;
  synthesize(t / "b", o);
  EXPECT_EQ(hashes(t / "a"), hashes(t / "b"));
  o.seed = 2;
  synthesize(t / "c", o);
  EXPECT_NE(hashes(t / "a"), hashes(t / "c"));
}

TEST(Synth, StoresSomePhotosRotatedWithAnExifTag) {
  TempDir t;
  SynthOptions o;
  o.count = 40;
  o.long_side = 96;
  o.exif_share = 0.5;
  auto r = synthesize(t / "a", o);
  EXPECT_EQ(r.written, 40);
  int tagged = 0;
  for (auto& e : fs::directory_iterator(t / "a" / "images")) {
    auto h = image::read_header(util::read_file(e.path()), e.path().string());
    auto m = image::read_header(util::read_file(t / "a" / "masks" / e.path().filename()), "m");
    tagged += h.orientation != 1;
    EXPECT_EQ(h.display_width(), m.width);  // masks are in the displayed frame
    EXPECT_EQ(h.display_height(), m.height);
    EXPECT_EQ(m.channels, 1);
  }
  EXPECT_EQ(tagged, r.with_exif);
  EXPECT_GT(tagged, 5);
}

}  // namespace
}  // namespace wms::data
