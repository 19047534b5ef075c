#include "wms/image/decode.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <random>

#include "testing.hpp"
#include "wms/image/exif.hpp"
#include "wms/util/fs.hpp"

namespace wms::image {
namespace {

// An image whose every orientation looks different: a bright block in one corner.
cv::Mat asymmetric(int w, int h) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(30, 30, 30));
  cv::rectangle(m, cv::Rect(0, 0, w / 3, h / 4), cv::Scalar(250, 250, 250), cv::FILLED);
  cv::rectangle(m, cv::Rect(w / 2, h / 2, w / 6, h / 3), cv::Scalar(0, 0, 200), cv::FILLED);
  return m;
}

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size()) return 1e9;
  cv::Mat d;
  cv::absdiff(a, b, d);
  cv::Scalar s = cv::mean(d);
  return (s[0] + s[1] + s[2]) / 3;
}

TEST(Decode, AppliesEveryExifOrientation) {
  cv::Mat displayed = asymmetric(64, 48);
  for (int o = 1; o <= 8; ++o) {
    cv::Mat stored = displayed.clone();
    undo_orientation(stored, o);
    std::string jpeg = jpeg_with_orientation(encode_jpeg(stored, 100), o);
    Decoded d = decode_image(jpeg, "x.jpg");
    EXPECT_LT(mean_abs_diff(d.pixels, displayed), 3.0) << "orientation " << o;
  }
}

TEST(Decode, AgreesWithOpenCvImreadOrientation) {
  // Second path: OpenCV's own EXIF handling (cv::imread applies it by default).
  wms::testing::TempDir t;
  cv::Mat stored = asymmetric(64, 48);
  for (int o = 1; o <= 8; ++o) {
    std::string jpeg = jpeg_with_orientation(encode_jpeg(stored, 95), o);
    util::atomic_write(t / "x.jpg", jpeg);
    cv::Mat reference = cv::imread((t / "x.jpg").string(), cv::IMREAD_COLOR);
    Decoded d = decode_image(jpeg, "x.jpg");
    ASSERT_EQ(d.pixels.size(), reference.size()) << o;
    EXPECT_EQ(cv::norm(d.pixels, reference, cv::NORM_INF), 0) << "orientation " << o;
  }
}

TEST(Decode, MasksFollowTheSameOrientationRule) {
  cv::Mat displayed(48, 64, CV_8UC1, cv::Scalar(0));
  cv::rectangle(displayed, cv::Rect(2, 3, 20, 10), cv::Scalar(255), cv::FILLED);
  cv::Mat stored = displayed.clone();
  undo_orientation(stored, 6);
  Decoded d = decode_mask(jpeg_with_orientation(encode_jpeg(stored, 100), 6), "m.jpg");
  ASSERT_EQ(d.pixels.type(), CV_8UC1);
  EXPECT_LT(cv::norm(binarize_mask(d.pixels), displayed, cv::NORM_L1) / 255.0, 10);
}

TEST(Decode, RefusesTruncatedFiles) {
  std::string jpeg = encode_jpeg(asymmetric(64, 64));
  try {
    decode_image(jpeg.substr(0, jpeg.size() * 2 / 3), "cut.jpg");
    FAIL() << "a truncated JPEG must not decode";
  } catch (const ImageError& e) {
    EXPECT_EQ(e.rule(), "file.decodable");
    EXPECT_NE(std::string(e.what()).find("cut.jpg"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos);
  }
}

TEST(Decode, RefusesBombsBeforeDecoding) {
  cv::Mat img = asymmetric(100, 100);
  DecodeLimits limits;
  limits.max_pixels = 100 * 100;  // exactly at the limit: accepted
  EXPECT_NO_THROW(decode_image(encode_png(img), "ok.png", limits));
  limits.max_pixels = 100 * 100 - 1;  // one past: refused
  try {
    decode_image(encode_png(img), "big.png", limits);
    FAIL();
  } catch (const ImageError& e) {
    EXPECT_EQ(e.rule(), "image.too_large");
  }
}

TEST(Decode, FlippedBytesNeverCrash) {
  std::string jpeg = jpeg_with_orientation(encode_jpeg(asymmetric(48, 32)), 6);
  std::string png = encode_png(asymmetric(48, 32));
  std::mt19937 rng(1234);  // fixed seed: failures reproduce
  for (const std::string* src : {&jpeg, &png}) {
    for (int trial = 0; trial < 300; ++trial) {
      std::string b = *src;
      for (int k = 0; k < 4; ++k) b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
      try {
        Decoded d = decode_image(b, "fuzz");
        EXPECT_FALSE(d.pixels.empty());
      } catch (const ImageError&) {
      }
    }
  }
}

TEST(BinarizeMask, ForegroundIsValueAtLeast127) {
  cv::Mat g = (cv::Mat_<uchar>(1, 4) << 0, 126, 127, 255);
  cv::Mat b = binarize_mask(g);
  EXPECT_EQ(b.at<uchar>(0, 0), 0);
  EXPECT_EQ(b.at<uchar>(0, 1), 0);
  EXPECT_EQ(b.at<uchar>(0, 2), 255);
  EXPECT_EQ(b.at<uchar>(0, 3), 255);
}

}  // namespace
}  // namespace wms::image
