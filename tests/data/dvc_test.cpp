#include "wms/data/dvc.hpp"

#include <gtest/gtest.h>

#include "wms/util/error.hpp"
#include "wms/util/hash.hpp"

namespace wms::data {
namespace {

// Expected bytes computed independently with CPython 3.11:
//   entries.sort(key=lambda e: tuple(e["relpath"].split("/")))
//   json.dumps(entries, sort_keys=True)
TEST(DvcDirJson, MatchesPythonJsonDumpsByteForByte) {
  Listing l;
  for (std::string rel : {"b.jpg", "a.jpg", "ünï \"q\".jpg", "dir/x.jpg", "dir-x.jpg", "emoji😀.png"})
    l.push_back({rel, util::md5_hex(rel), 0});
  std::string expected = R"([{"md5": "394659692a460258b45a99f1424ea357", "relpath": "a.jpg"}, )"
                         R"({"md5": "efaf98db2eac3a61946ca0282ae6ddd4", "relpath": "b.jpg"}, )"
                         R"({"md5": "74210b61917689f810c2d197ecf9a1ec", "relpath": "dir/x.jpg"}, )"
                         R"({"md5": "8fae79101c69b08047705463e8451c06", "relpath": "dir-x.jpg"}, )"
                         R"({"md5": "03185decbe4dd35cb8d4c7894f641193", "relpath": "emoji\ud83d\ude00.png"}, )"
                         R"({"md5": "6843f2635ee528140fe3cd7bebaccd82", "relpath": "\u00fcn\u00ef \"q\".jpg"}])";
  std::string got = dir_json(l);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(util::md5_hex(got), "79ac9ad2e8b04368c0a18e3fad34a54a");
}

TEST(DvcDirJson, EmptyListingIsAnEmptyArray) {
  EXPECT_EQ(dir_json({}), "[]");
}

TEST(DvcDirJson, ParsesWhatItWrites) {
  Listing l = {{"a.jpg", util::md5_hex("1"), 0}, {"b.png", util::md5_hex("2"), 0}};
  Listing back = parse_dir_json(dir_json(l), "x.dir");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].relpath, "a.jpg");
  EXPECT_EQ(back[1].md5, util::md5_hex("2"));
}

TEST(DvcDirJson, CorruptListingsAreNamedErrors) {
  for (std::string bad :
       {"", "{}", "[{\"md5\": 1}]", "[{\"md5\": \"zz\", \"relpath\": \"a\"}]", "[{\"relpath\": \"a\"}]", "[1,"}) {
    try {
      parse_dir_json(bad, "obj.dir");
      FAIL() << bad;
    } catch (const Corrupt& e) {
      EXPECT_NE(std::string(e.what()).find("obj.dir"), std::string::npos);
    }
  }
}

TEST(DvcFile, WritesDvc3Layout) {
  DvcOut o{"caa3721d52eb64725390b490b91a5745.dir", 121572246, 970, "images"};
  EXPECT_EQ(dvc_file_text(o),
            "outs:\n- md5: caa3721d52eb64725390b490b91a5745.dir\n  size: 121572246\n  nfiles: 970\n  hash: md5\n  "
            "path: images\n");
}

TEST(DvcFile, ParsesDvcWrittenFilesIncludingOlderOnes) {
  // DVC 2.x files have no `hash:` line and may be indented differently.
  DvcOut o = parse_dvc_file(
      "outs:\n  - md5: 322756809ac53695367784cbff6cd5b0.dir\n    size: 179490\n    nfiles: 4\n    path: data\n",
      "data.dvc");
  EXPECT_EQ(o.md5, "322756809ac53695367784cbff6cd5b0.dir");
  EXPECT_EQ(o.nfiles, 4u);
  EXPECT_EQ(o.path, "data");
  DvcOut w{"322756809ac53695367784cbff6cd5b0.dir", 1, 2, "x"};
  EXPECT_EQ(parse_dvc_file(dvc_file_text(w), "x.dvc").md5, w.md5);
}

TEST(DvcFile, CorruptPointerFilesAreNamedErrors) {
  for (std::string bad : {"", "outs: []\n", "outs:\n- path: x\n", "outs:\n- md5: nothex\n  path: x\n", "outs: [\n"}) {
    try {
      parse_dvc_file(bad, "images.dvc");
      FAIL() << bad;
    } catch (const Corrupt& e) {
      EXPECT_NE(std::string(e.what()).find("images.dvc"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace wms::data
