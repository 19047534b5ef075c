#include "wms/data/validate.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testing.hpp"
#include "wms/data/synth.hpp"
#include "wms/util/config.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"
#include "wms/image/decode.hpp"

#include <opencv2/imgproc.hpp>
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
  for (const auto& f : flaws) EXPECT_TRUE(has_issue(v.report, f.rule, f.file)) << f.rule << " on " << f.file << "\n" << v.report.to_text();
  // Nothing flawed makes it into the valid pairs.
  for (const auto& p : v.pairs) EXPECT_TRUE(p.stem == "photo_1" || p.stem == "id_9112_value_2_2" || p.stem == "id_9113_value_2_3") << p.stem;
}

TEST(Validate, EveryRuleIsCoveredByTheBadBatch) {
  TempDir t;
  auto flaws = synthesize_bad(t / "bad");
  std::set<std::string> planted;
  for (const auto& f : flaws) planted.insert(f.rule);
  // Rules not planted by synthesize_bad are covered by their own tests below.
  std::set<std::string> own_tests = {"file.name", "file.format", "image.channels", "pair.extension_differs",
                                     "dataset.name_conflict"};
  for (const auto& r : rules()) EXPECT_TRUE(planted.count(r.id) || own_tests.count(r.id)) << r.id;
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
  wms::testing::write_bytes(t / "b" / "masks" / "id_1_value_0_0.jpg", util::read_file(t / "b" / "masks" / imgs[0].filename()));
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

TEST(Validate, NamesWithControlCharactersAreRefused) {
  TempDir t;
  SynthOptions so;
  so.count = 1;
  so.long_side = 128;
  synthesize(t / "b", so);
  wms::testing::write_bytes(t / "b" / "images" / "bad\nname.jpg", "x");
  auto v = validate_batch(BatchSource::from_dir(t / "b"), {}, options());
  EXPECT_TRUE(has_issue(v.report, "file.name", "name.jpg")) << v.report.to_text();
}

TEST(Validate, MissingFolderIsNotFound) {
  TempDir t;
  EXPECT_THROW(validate_batch(BatchSource::from_dir(t / "nothing"), {}, options()), NotFound);
}

TEST(Validate, SeverityOverridesAndOffSwitch) {
  TempDir t;
  auto flaws = synthesize_bad(t / "bad");
  auto cfg = util::Config::parse("validation:\n  severity:\n    mask.regions: error\n    name.pattern: off\n", "wms.yaml");
  auto o = validation_options(cfg);
  auto v = validate_batch(BatchSource::from_dir(t / "bad"), {}, o);
  for (const auto& i : v.report.issues) {
    EXPECT_NE(i.rule, "name.pattern");
    if (i.rule == "mask.regions") EXPECT_EQ(i.severity, Severity::kError);
  }
  EXPECT_THROW(validation_options(util::Config::parse("validation:\n  severity:\n    no.such: error\n", "w")), InvalidInput);
  EXPECT_THROW(validation_options(util::Config::parse("validation:\n  severity:\n    mask.regions: loud\n", "w")), InvalidInput);
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
  EXPECT_TRUE(has_issue(validate_batch(BatchSource::from_dir(t / "b"), {}, o).report, "mask.empty", "id_1_value_1_1.png"));
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
