#include "wms/data/validate.hpp"
#include "wms/data/workspace.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing.hpp"
#include "wms/data/synth.hpp"
#include "wms/image/decode.hpp"
#include "wms/util/config.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"

#include <sys/stat.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <map>
#include <set>

namespace wms::data {
namespace {

using wms::testing::TempDir;
namespace fs = std::filesystem;

bool has_issue(const Report& r, const std::string& rule, const std::string& file_suffix) {
  for (const auto& i : r.issues)
    if (i.rule == rule)
      for (const auto& f : i.files)
        if (f.ends_with(file_suffix)) return true;
  return false;
}

ValidationOptions options() {
  ValidationOptions o;
  o.threads = 2;
  return o;
}

TEST(Validate, CleanSyntheticBatchPassesWithoutIssues) {
  TempDir t;
  SynthOptions so;
  so.count = 24;
  so.long_side = 160;
  so.exif_share = 0.5;
  synthesize(t / "b", so);
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_TRUE(v.report.ok()) << v.report.to_text();
  EXPECT_TRUE(v.report.issues.empty()) << v.report.to_text();
  EXPECT_EQ(v.report.pairs_valid, 24u);
  EXPECT_EQ(v.report.new_images, 24u);
}

// Every rule the bad-batch generator plants is reported, on the right file.
TEST(Validate, ReportsEveryPlantedFlawWithItsRule) {
  TempDir t;
  auto flaws = synthesize_bad(t / "bad");
  auto v = validate_batch(BatchSource::from_dir(t / "bad"), {}, options());
  EXPECT_FALSE(v.report.ok());
  for (const auto& f : flaws)
    EXPECT_TRUE(has_issue(v.report, f.rule, f.file)) << f.rule << " on " << f.file << "\n" << v.report.to_text();
  // Nothing flawed makes it into the valid pairs.
  for (const auto& p : v.pairs)
    EXPECT_TRUE(p.stem == "photo_1" || p.stem == "id_9112_value_2_2" || p.stem == "id_9113_value_2_3") << p.stem;
}

TEST(Validate, EveryRuleIsCoveredByTheBadBatch) {
  TempDir t;
  auto flaws = synthesize_bad(t / "bad");
  std::set<std::string> planted;
  for (const auto& f : flaws) planted.insert(f.rule);
  // Rules not planted by synthesize_bad are covered by their own tests below.
  std::set<std::string> own_tests = {
      "file.name",   "file.format", "image.channels", "pair.extension_differs", "dataset.name_conflict",
      "batch.empty", "file.type",   "name.case_clash"};
  for (const auto& r : rules()) EXPECT_TRUE(planted.count(r.id) || own_tests.count(r.id)) << r.id;
}

// The stems of a synthetic batch's photos, sorted (names carry random values).
std::vector<std::string> stems(const fs::path& b) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(b / "images"))
    if (e.is_regular_file() && e.path().extension() == ".jpg" && e.path().filename().string().starts_with("id_"))
      out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Moves the pair `stem` of batch b into sub-folder sub/ of images/ and masks/.
void nest(const fs::path& b, const std::string& stem, const std::string& sub) {
  for (const char* side : {"images", "masks"})
    for (auto& e : std::vector<fs::directory_entry>(fs::directory_iterator(b / side), {}))
      if (e.is_regular_file() && e.path().stem() == stem) {
        fs::create_directories(b / side / sub);
        fs::rename(e.path(), b / side / sub / e.path().filename());
      }
}

// Every file under images/ and masks/ is paired, ignored by the documented rule, or
// reported: nested pairs are paired by relative path, never left out silently.
TEST(Validate, NestedPairsArePairedByRelativePath) {
  TempDir t;
  SynthOptions so;
  so.count = 6;
  so.long_side = 128;
  synthesize(t / "b", so);
  auto s = stems(t / "b");
  nest(t / "b", s[0], "day2");
  nest(t / "b", s[1], "day2/cam1");
  nest(t / "b", s[2], "v1.2");  // a dot in a folder name is not an extension
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_TRUE(v.report.ok()) << v.report.to_text();
  EXPECT_TRUE(v.report.issues.empty()) << v.report.to_text();
  EXPECT_EQ(v.report.pairs_valid, 6u);
  std::set<std::string> found;
  for (const auto& p : v.pairs) found.insert(p.stem);
  EXPECT_TRUE(found.count("day2/" + s[0]));
  EXPECT_TRUE(found.count("day2/cam1/" + s[1]));
  EXPECT_TRUE(found.count("v1.2/" + s[2]));
  for (const auto& p : v.pairs)
    if (p.stem == "day2/cam1/" + s[1]) {
      EXPECT_EQ(p.image.name, "day2/cam1/" + s[1] + ".jpg");
      EXPECT_EQ(p.mask.name, "day2/cam1/" + s[1] + ".jpg");
    }
}

TEST(Validate, OnlyTopLevelAndNestedMixedKeepsEveryPair) {
  TempDir t;
  SynthOptions so;
  so.count = 4;
  so.long_side = 128;
  synthesize(t / "b", so);
  nest(t / "b", stems(t / "b")[3], "sub");
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_EQ(v.report.pairs_found, 4u) << v.report.to_text();
  EXPECT_EQ(v.report.new_images, 4u);
}

TEST(Validate, DotFilesAndOsJunkAreIgnoredAndCounted) {
  TempDir t;
  SynthOptions so;
  so.count = 3;
  so.long_side = 128;
  synthesize(t / "b", so);
  for (const char* junk : {"images/.DS_Store", "images/._x.jpg", "images/Thumbs.db", "masks/desktop.ini",
                           "masks/.git/objects/ab", "images/__MACOSX/._x.jpg", "images/sub/.hidden.jpg"})
    wms::testing::write_bytes(t / "b" / junk, "junk");
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_TRUE(v.report.ok()) << v.report.to_text();
  EXPECT_TRUE(v.report.issues.empty()) << v.report.to_text();
  EXPECT_EQ(v.report.files_ignored, 7u);                    // the files inside .git/ and __MACOSX/ count too
  EXPECT_EQ(v.report.ignored.front(), "images/.DS_Store");  // named, in the report and its JSON
  EXPECT_EQ(v.report.ignored.back(), "masks/desktop.ini");
  EXPECT_EQ(v.report.pairs_valid, 3u);
  // Pairs inside a dot-folder are ignored by the rule, and every file is counted.
  auto s = stems(t / "b");
  nest(t / "b", s[0], ".day5");
  auto hidden = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_EQ(hidden.report.files_ignored, 9u);
  EXPECT_EQ(hidden.report.pairs_valid, 2u);
  EXPECT_NE(hidden.report.to_text().find("9 file(s) ignored by name"), std::string::npos) << hidden.report.to_text();
}

TEST(Validate, NestedImageWithAFlatMaskSaysWhereTheMaskIs) {
  TempDir t;
  SynthOptions so;
  so.count = 2;
  so.long_side = 128;
  synthesize(t / "b", so);
  std::string s = stems(t / "b")[0];
  fs::create_directories(t / "b/images/day2");
  fs::rename(t / "b/images" / (s + ".jpg"), t / "b/images/day2" / (s + ".jpg"));
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_FALSE(v.report.ok());
  ASSERT_TRUE(has_issue(v.report, "pair.mask_missing", "images/day2/" + s + ".jpg")) << v.report.to_text();
  ASSERT_TRUE(has_issue(v.report, "pair.image_missing", "masks/" + s + ".jpg")) << v.report.to_text();
  for (const auto& i : v.report.issues)
    if (i.rule == "pair.mask_missing")
      EXPECT_NE(i.message.find("another folder level"), std::string::npos) << i.message;
}

// A batch with nothing to pair is an error, not "PASSED — 0 pairs found".
TEST(Validate, ABatchWithoutPairsIsAnError) {
  TempDir t;
  fs::create_directories(t / "b/images");
  fs::create_directories(t / "b/masks");
  wms::testing::write_bytes(t / "b/images/.DS_Store", "junk");
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_FALSE(v.report.ok()) << v.report.to_text();
  ASSERT_EQ(v.report.issues.size(), 1u) << v.report.to_text();
  EXPECT_EQ(v.report.issues[0].rule, "batch.empty");
  EXPECT_NE(v.report.issues[0].message.find("1 ignored"), std::string::npos) << v.report.issues[0].message;
  EXPECT_NE(v.report.to_text().find("FAILED"), std::string::npos);
}

// A fifo would block a reader forever, a dangling link has nothing to read: reported.
TEST(Validate, FilesThatAreNotRegularAreReportedNotOpened) {
  TempDir t;
  SynthOptions so;
  so.count = 2;
  so.long_side = 128;
  synthesize(t / "b", so);
  ASSERT_EQ(::mkfifo((t / "b/images/pipe.jpg").c_str(), 0600), 0);
  fs::create_symlink(t / "nowhere.png", t / "b/masks/gone.png");
  fs::create_directories(t / "elsewhere");
  fs::create_directory_symlink(t / "elsewhere", t / "b/images/linked");
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_FALSE(v.report.ok());
  EXPECT_TRUE(has_issue(v.report, "file.type", "images/pipe.jpg")) << v.report.to_text();
  EXPECT_TRUE(has_issue(v.report, "file.type", "masks/gone.png")) << v.report.to_text();
  EXPECT_TRUE(has_issue(v.report, "file.type", "images/linked")) << v.report.to_text();
  EXPECT_EQ(v.report.pairs_valid, 2u);
}

// Label-index masks (0 = background, 1 = window) are the most common export; the
// message says what was found and how to convert, not "draw the reading window".
TEST(Validate, LabelIndexMaskIsRecognisedInTheMessage) {
  TempDir t;
  SynthOptions so;
  so.count = 3;
  so.long_side = 128;
  synthesize(t / "b", so);
  auto s = stems(t / "b");
  fs::path m = t / "b/masks" / (s[0] + ".jpg");
  cv::Mat g = image::decode_mask(util::read_file(m), "m").pixels;
  cv::Mat labels = g / 255;  // 0 and 1
  ASSERT_EQ(cv::countNonZero(labels > 1), 0);
  std::vector<uchar> png;
  cv::imencode(".png", labels, png);
  fs::remove(m);
  wms::testing::write_bytes(m.replace_extension(".png"), std::string(png.begin(), png.end()));
  fs::path e = t / "b/masks" / (s[1] + ".jpg");
  cv::Mat black = cv::Mat::zeros(g.size(), CV_8U);
  cv::imencode(".png", black, png);
  fs::remove(e);
  wms::testing::write_bytes(e.replace_extension(".png"), std::string(png.begin(), png.end()));
  // A red-on-black mask: a colour mask, not class ids.
  fs::path red = t / "b/masks" / (s[2] + ".jpg");
  cv::Mat bgr;
  cv::merge(std::vector<cv::Mat>{cv::Mat::zeros(g.size(), CV_8U), cv::Mat::zeros(g.size(), CV_8U), g}, bgr);
  cv::imencode(".png", bgr, png);
  fs::remove(red);
  wms::testing::write_bytes(red.replace_extension(".png"), std::string(png.begin(), png.end()));
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  std::string label_msg, black_msg, red_msg;
  for (const auto& i : v.report.issues) {
    if (i.rule == "mask.empty" && i.files[0].ends_with(s[0] + ".png")) label_msg = i.message;
    if (i.rule == "mask.empty" && i.files[0].ends_with(s[1] + ".png")) black_msg = i.message;
    if (i.rule == "mask.empty" && i.files[0].ends_with(s[2] + ".png")) red_msg = i.message;
  }
  EXPECT_NE(red_msg.find("a colour mask"), std::string::npos) << v.report.to_text();
  EXPECT_NE(label_msg.find("values are 0..1"), std::string::npos) << v.report.to_text();
  EXPECT_NE(label_msg.find("label-index"), std::string::npos) << label_msg;
  EXPECT_NE(label_msg.find("255"), std::string::npos) << label_msg;
  EXPECT_NE(black_msg.find("every pixel is 0"), std::string::npos) << v.report.to_text();
}

// file.format names what the content is: a Git LFS pointer, HEIF, WebP, text...
TEST(Validate, UnknownContentIsNamed) {
  TempDir t;
  SynthOptions so;
  so.count = 4;
  so.long_side = 128;
  synthesize(t / "b", so);
  auto s = stems(t / "b");
  auto img = [&](int k) { return t / "b/images" / (s[k] + ".jpg"); };
  wms::testing::write_bytes(img(0), "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12\n");
  wms::testing::write_bytes(img(1), std::string("\0\0\0\x18"
                                                "ftypheic\0\0\0\0",
                                                16));
  wms::testing::write_bytes(img(2), std::string("RIFF\x10\0\0\0WEBPVP8 ", 16));
  wms::testing::write_bytes(img(3), "<html><body>404 Not Found</body></html>");
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  std::map<std::string, std::string> msg;
  for (const auto& i : v.report.issues)
    if (i.rule == "file.format") msg[fs::path(i.files[0]).stem().string()] = i.message;
  EXPECT_NE(msg[s[0]].find("Git LFS pointer"), std::string::npos) << v.report.to_text();
  EXPECT_NE(msg[s[1]].find("HEIF"), std::string::npos) << v.report.to_text();
  EXPECT_NE(msg[s[2]].find("WebP"), std::string::npos) << v.report.to_text();
  EXPECT_NE(msg[s[3]].find("text"), std::string::npos) << v.report.to_text();
}

TEST(Validate, FileFormatAndChannelsAndExtensionRules) {
  TempDir t;
  SynthOptions so;
  so.count = 2;
  so.long_side = 128;
  so.exif_share = 0;
  synthesize(t / "b", so);
  std::vector<fs::path> imgs;
  for (auto& e : fs::directory_iterator(t / "b" / "images")) imgs.push_back(e.path());
  std::sort(imgs.begin(), imgs.end());
  // A text file named .jpg.
  wms::testing::write_bytes(t / "b" / "images" / "id_1_value_0_0.jpg", "this is not a photo");
  wms::testing::write_bytes(t / "b" / "masks" / "id_1_value_0_0.jpg",
                            util::read_file(t / "b" / "masks" / imgs[0].filename()));
  // A gray photo with a PNG mask.
  auto gray = image::decode_image(util::read_file(imgs[1]), "x").pixels;
  cv::Mat g;
  cv::cvtColor(gray, g, cv::COLOR_BGR2GRAY);
  fs::path mask1 = t / "b" / "masks" / imgs[1].filename();
  std::string mask_png = image::encode_png(image::decode_mask(util::read_file(mask1), "m").pixels);
  fs::remove(mask1);
  wms::testing::write_bytes(imgs[1], image::encode_jpeg(g));
  wms::testing::write_bytes(fs::path(mask1).replace_extension(".png"), mask_png);
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_TRUE(has_issue(v.report, "file.format", "images/id_1_value_0_0.jpg")) << v.report.to_text();
  EXPECT_TRUE(has_issue(v.report, "image.channels", imgs[1].filename().string())) << v.report.to_text();
  EXPECT_TRUE(has_issue(v.report, "pair.extension_differs", imgs[1].filename().string())) << v.report.to_text();
}

TEST(Validate, NamesThatDifferOnlyInCaseAreWarned) {
  TempDir t;
  SynthOptions so;
  so.count = 2;
  so.long_side = 128;
  synthesize(t / "b", so);
  std::string s = stems(t / "b")[0], upper = s;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  fs::copy_file(t / "b/images" / (s + ".jpg"), t / "b/images" / (upper + ".JPG"));
  fs::copy_file(t / "b/masks" / (s + ".jpg"), t / "b/masks" / (upper + ".JPG"));
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_TRUE(has_issue(v.report, "name.case_clash", upper + ".JPG")) << v.report.to_text();
}

TEST(Validate, NamesWithControlCharactersAreRefused) {
  TempDir t;
  SynthOptions so;
  so.count = 1;
  so.long_side = 128;
  synthesize(t / "b", so);
  wms::testing::write_bytes(t / "b" / "images" / "bad\nname.jpg", "x");
  wms::testing::write_bytes(t / "b" / "images" / "caf\xE9" / "x.jpg", "x");  // Latin-1 folder name
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_TRUE(has_issue(v.report, "file.name", "name.jpg")) << v.report.to_text();
  EXPECT_TRUE(has_issue(v.report, "file.name", "/x.jpg")) << v.report.to_text();
  // Each message names the byte that breaks the rule and where it is.
  for (const auto& i : v.report.issues)
    if (i.rule == "file.name")
      EXPECT_TRUE(i.message.find("byte 0x0A at position 4") != std::string::npos ||
                  i.message.find("byte 0xE9 at position 4") != std::string::npos)
          << i.message;
}

TEST(Validate, MissingFolderIsNotFound) {
  TempDir t;
  EXPECT_THROW(validate_batch(BatchSource::from_dir(t / "nothing"), {}, options()), NotFound);
  fs::create_directories(t / "b/Images");
  fs::create_directories(t / "b/masks");
  try {
    validate_batch(BatchSource::from_dir(t / "b"), {}, options());
    FAIL();
  } catch (const NotFound& e) {
    EXPECT_NE(std::string(e.what()).find("Images: folder names are case-sensitive"), std::string::npos) << e.what();
  }
}

TEST(Validate, SeverityOverridesAndOffSwitch) {
  TempDir t;
  auto flaws = synthesize_bad(t / "bad");
  auto cfg =
      util::Config::parse("validation:\n  severity:\n    mask.regions: error\n    name.pattern: off\n", "wms.yaml");
  auto o = validation_options(cfg);
  auto v = validate_batch(BatchSource::from_dir(t / "bad"), {}, o);
  for (const auto& i : v.report.issues) {
    EXPECT_NE(i.rule, "name.pattern");
    if (i.rule == "mask.regions") EXPECT_EQ(i.severity, Severity::kError);
  }
  EXPECT_THROW(validation_options(util::Config::parse("validation:\n  severity:\n    no.such: error\n", "w")),
               InvalidInput);
  EXPECT_THROW(validation_options(util::Config::parse("validation:\n  severity:\n    mask.regions: loud\n", "w")),
               InvalidInput);
}

// validation: options are read by one table: a value out of its range names the key,
// the rule and what was found, and the defaults wms.yaml shows are the table's.
TEST(Validate, OptionsAreCheckedAndTheDefaultsWrittenAreTheTables) {
  auto refused = [](const std::string& yaml, const std::string& key, const std::string& found) {
    try {
      validation_options(util::Config::parse(yaml, "wms.yaml"));
      ADD_FAILURE() << yaml;
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find("wms.yaml: " + key), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(found), std::string::npos) << e.what();
    }
  };
  refused("validation: {mask_threshold: 0}", "validation.mask_threshold", "found 0");
  refused("validation: {max_grey_share: 2}", "validation.max_grey_share", "found 2");
  refused("validation: {min_side: -5}", "validation.min_side", "found -5");
  refused("validation: {grey_low: 200, grey_high: 100}", "validation.grey_low", "200 > 100");
  refused("validation: {max_regions: many}", "validation.max_regions", "many");
  auto written = util::Config::parse(data::default_config_text(), "default wms.yaml");
  const auto defaults = validation_option_table().record(ValidationOptions{});
  for (const auto& row : validation_option_table().rows()) {
    EXPECT_TRUE(written.has(row.key)) << row.key << " is missing from the default wms.yaml";
    EXPECT_EQ(validation_option_table().record(validation_options(written))[row.param], defaults[row.param]) << row.key;
  }
}

TEST(Validate, ForegroundShareLimitIsInclusive) {
  TempDir t;
  cv::Mat photo(100, 100, CV_8UC3, cv::Scalar(100, 120, 140));
  cv::Mat mask = cv::Mat::zeros(100, 100, CV_8UC1);
  cv::rectangle(mask, cv::Rect(0, 0, 40, 10), cv::Scalar(255), cv::FILLED);  // 400 px = 4%
  wms::testing::write_bytes(t / "b" / "images" / "id_1_value_1_1.png", image::encode_png(photo));
  wms::testing::write_bytes(t / "b" / "masks" / "id_1_value_1_1.png", image::encode_png(mask));
  auto o = options();
  o.max_foreground_share = 0.04;  // at the limit: fine
  EXPECT_TRUE(validate_batch(BatchSource::from_dir(t / "b"), {}, o).report.ok());
  o.max_foreground_share = 0.0399;  // just past: refused
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, o);
  EXPECT_TRUE(has_issue(v.report, "mask.foreground_share", "id_1_value_1_1.png"));
  o = options();
  o.min_foreground_pixels = 400;
  EXPECT_TRUE(validate_batch(BatchSource::from_dir(t / "b"), {}, o).report.ok());
  o.min_foreground_pixels = 401;
  EXPECT_TRUE(
      has_issue(validate_batch(BatchSource::from_dir(t / "b"), {}, o).report, "mask.empty", "id_1_value_1_1.png"));
}

TEST(Validate, ReportJsonCarriesOutputsAndIssues) {
  TempDir t;
  synthesize_bad(t / "bad");
  auto j = validate_batch(BatchSource::from_dir(t / "bad"), {}, options()).report.to_json();
  EXPECT_FALSE(j["validation_passed"].get<bool>());
  EXPECT_GT(j["errors"].get<int>(), 0);
  ASSERT_TRUE(j["issues"].is_array());
  for (const auto& i : j["issues"]) {
    EXPECT_TRUE(i.contains("rule") && i.contains("severity") && i.contains("files") && i.contains("message"));
    EXPECT_FALSE(i["message"].get<std::string>().empty());
  }
}

}  // namespace
}  // namespace wms::data
