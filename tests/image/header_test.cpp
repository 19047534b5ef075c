#include "wms/image/header.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "wms/image/decode.hpp"
#include "wms/image/exif.hpp"

namespace wms::image {
namespace {

cv::Mat gradient(int w, int h, int type = CV_8UC3) {
  cv::Mat m(h, w, type);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (type == CV_8UC3)
        m.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 5 % 256, y * 7 % 256, (x + y) % 256);
      else if (type == CV_8UC4)
        m.at<cv::Vec4b>(y, x) = cv::Vec4b(x % 256, y % 256, 9, 255);
      else
        m.at<uchar>(y, x) = static_cast<uchar>((x * y) % 256);
    }
  return m;
}

TEST(Header, ReadsJpegSizeAndChannels) {
  Header h = read_header(encode_jpeg(gradient(40, 30)), "a.jpg");
  EXPECT_EQ(h.format, Format::kJpeg);
  EXPECT_EQ(h.width, 40);
  EXPECT_EQ(h.height, 30);
  EXPECT_EQ(h.channels, 3);
  EXPECT_EQ(h.orientation, 1);
  EXPECT_FALSE(h.truncated);
  EXPECT_EQ(read_header(encode_jpeg(gradient(8, 9, CV_8UC1)), "g.jpg").channels, 1);
}

TEST(Header, ReadsExifOrientationAndSwapsDisplaySize) {
  for (int o = 1; o <= 8; ++o) {
    Header h = read_header(jpeg_with_orientation(encode_jpeg(gradient(40, 30)), o), "a.jpg");
    EXPECT_EQ(h.orientation, o);
    EXPECT_EQ(h.display_width(), o >= 5 ? 30 : 40) << o;
  }
}

TEST(Header, InvalidOrientationValuesReadAsOne) {
  // The real data has Orientation = 0, which EXIF does not define: treated as 1.
  EXPECT_EQ(read_header(jpeg_with_orientation(encode_jpeg(gradient(8, 8)), 0), "a.jpg").orientation, 1);
  EXPECT_EQ(read_header(jpeg_with_orientation(encode_jpeg(gradient(8, 8)), 9), "a.jpg").orientation, 1);
}

TEST(Header, ReadsPngSizeAndAlpha) {
  Header h = read_header(encode_png(gradient(21, 13, CV_8UC4)), "a.png");
  EXPECT_EQ(h.format, Format::kPng);
  EXPECT_EQ(h.width, 21);
  EXPECT_EQ(h.height, 13);
  EXPECT_EQ(h.channels, 4);
  EXPECT_FALSE(h.truncated);
}

TEST(Header, FlagsTruncatedJpegAndPng) {
  std::string jpeg = encode_jpeg(gradient(64, 64));
  EXPECT_TRUE(read_header(jpeg.substr(0, jpeg.size() - 2), "a.jpg").truncated);
  EXPECT_TRUE(read_header(jpeg.substr(0, jpeg.size() / 2), "a.jpg").truncated);
  std::string png = encode_png(gradient(64, 64));
  EXPECT_TRUE(read_header(png.substr(0, png.size() - 5), "a.png").truncated);
}

TEST(Header, EmptyUnknownAndHeadlessFilesAreNamedErrors) {
  auto rule_of = [](const std::string& bytes) {
    try {
      read_header(bytes, "x");
    } catch (const ImageError& e) {
      return e.rule();
    }
    return std::string("none");
  };
  EXPECT_EQ(rule_of(""), "file.empty");
  EXPECT_EQ(rule_of("GIF89a...."), "file.format");
  std::string jpeg = encode_jpeg(gradient(16, 16));
  EXPECT_EQ(rule_of(jpeg.substr(0, 12)), "file.decodable");
  std::string png = encode_png(gradient(16, 16));
  EXPECT_EQ(rule_of(png.substr(0, 12)), "file.decodable");
}

TEST(Header, EveryTruncationOfAJpegIsHandled) {
  std::string jpeg = jpeg_with_orientation(encode_jpeg(gradient(24, 16)), 6);
  for (std::size_t n = 0; n < jpeg.size(); ++n) {
    try {
      Header h = read_header(jpeg.substr(0, n), "x.jpg");
      EXPECT_TRUE(h.truncated) << n;
    } catch (const ImageError&) {
    }
  }
}

}  // namespace
}  // namespace wms::image
