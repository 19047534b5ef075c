#include "wms/image/preprocess.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace wms::image {

cv::Mat resize_photo(const cv::Mat& bgr, int size) {
  cv::Mat rgb, out;
  bool shrink = bgr.cols >= size && bgr.rows >= size;
  cv::resize(bgr, out, cv::Size(size, size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::cvtColor(out, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

cv::Mat resize_mask(const cv::Mat& gray, int size, int threshold) {
  cv::Mat bin, out;
  cv::threshold(gray, bin, threshold - 1, 1, cv::THRESH_BINARY);
  cv::resize(bin, out, cv::Size(size, size), 0, 0, cv::INTER_NEAREST);
  return out;
}

std::array<std::uint8_t, 256> stretch_lut(const cv::Mat& img) {
  std::array<std::uint64_t, 256> hist{};
  const std::size_t n = img.total() * img.channels();
  if (img.isContinuous()) {
    const std::uint8_t* p = img.ptr<std::uint8_t>();
    for (std::size_t i = 0; i < n; ++i) ++hist[p[i]];
  } else {
    for (int y = 0; y < img.rows; ++y) {
      const std::uint8_t* p = img.ptr<std::uint8_t>(y);
      for (int x = 0; x < img.cols * img.channels(); ++x) ++hist[p[x]];
    }
  }
  // k-th smallest value (0-based) from the histogram.
  auto kth = [&](std::uint64_t k) {
    std::uint64_t seen = 0;
    for (int v = 0; v < 256; ++v) {
      seen += hist[v];
      if (seen > k) return v;
    }
    return 255;
  };
  // numpy.percentile, method 'linear': position q/100 * (n-1) between order statistics.
  auto percentile = [&](double q) {
    double pos = q / 100.0 * static_cast<double>(n - 1);
    auto lo = static_cast<std::uint64_t>(std::floor(pos));
    double frac = pos - static_cast<double>(lo);
    double a = kth(lo) / 255.0, b = lo + 1 < n ? kth(lo + 1) / 255.0 : a;
    return a + frac * (b - a);
  };
  double p2 = percentile(2), p98 = percentile(98);
  std::array<std::uint8_t, 256> lut{};
  for (int v = 0; v < 256; ++v) {
    double f = (static_cast<float>(v) / 255.0f - p2) / (p98 - p2 + 1e-6);
    f = std::clamp(f, 0.0, 1.0);
    lut[v] = static_cast<std::uint8_t>(static_cast<float>(f) * 255.0f);  // truncation, as the original
  }
  return lut;
}

cv::Mat stretch_and_median(const cv::Mat& rgb_u8) {
  auto table = stretch_lut(rgb_u8);
  cv::Mat lut(1, 256, CV_8U, table.data()), stretched, out;
  cv::LUT(rgb_u8, lut, stretched);
  cv::medianBlur(stretched, out, 3);
  return out;
}

void to_chw(const cv::Mat& rgb, float* dst, float brightness) {
  const int h = rgb.rows, w = rgb.cols;
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  float table[256];
  for (int v = 0; v < 256; ++v) table[v] = std::min(1.0f, (static_cast<float>(v) / 255.0f) * brightness);
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* p = rgb.ptr<std::uint8_t>(y);
    float* r = dst + static_cast<std::size_t>(y) * w;
    float* g = r + plane;
    float* b = g + plane;
    for (int x = 0; x < w; ++x) {
      r[x] = table[p[3 * x]];
      g[x] = table[p[3 * x + 1]];
      b[x] = table[p[3 * x + 2]];
    }
  }
}

void preprocess_photo(const cv::Mat& bgr, int size, float* dst) {
  to_chw(stretch_and_median(resize_photo(bgr, size)), dst);
}

}  // namespace wms::image
