#include "wms/data/synth.hpp"

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include <atomic>
#include <chrono>
#include <random>

#include "wms/image/decode.hpp"
#include "wms/image/exif.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/parallel.hpp"
#include "wms/util/progress.hpp"

namespace wms::data {
namespace {

struct Rng {
  std::mt19937_64 gen;
  double uni(double a, double b) { return std::uniform_real_distribution<double>(a, b)(gen); }
  int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(gen); }
  bool chance(double p) { return uni(0, 1) < p; }
};

std::string digits(Rng& r, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>('0' + r.integer(0, 9));
  return s;
}

// Smooth random texture: low-resolution noise scaled up.
cv::Mat texture(Rng& r, cv::Size size, cv::Scalar base, double amp) {
  cv::Mat small(std::max(2, size.height / 32), std::max(2, size.width / 32), CV_32FC3);
  cv::RNG cvr(r.gen());
  cvr.fill(small, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(amp));
  cv::Mat big;
  cv::resize(small, big, size, 0, 0, cv::INTER_CUBIC);
  big += base;
  return big;
}

struct Sample {
  cv::Mat photo;  // CV_8UC3, displayed frame
  cv::Mat mask;   // CV_8UC1, 0/255
  std::string a, b;
};

Sample render(Rng& r, cv::Size size) {
  Sample s;
  const int w = size.width, h = size.height, m = std::min(w, h);
  // Background: a wall or pipe-like texture.
  cv::Scalar bg(r.uni(40, 200), r.uni(40, 200), r.uni(40, 200));
  cv::Mat canvas = texture(r, size, bg, r.uni(5, 30));

  // Meter drawn in its own frame, then placed with a homography.
  cv::Mat layer(size, CV_32FC3, cv::Scalar::all(0));
  cv::Mat alpha(size, CV_32FC1, cv::Scalar(0));
  cv::Point2f c(w / 2.0f, h / 2.0f);
  float radius = static_cast<float>(m * r.uni(0.28, 0.42));
  cv::Scalar rim(r.uni(20, 120), r.uni(20, 120), r.uni(20, 160));
  cv::Scalar face = cv::Scalar::all(r.uni(170, 245));
  cv::circle(layer, c, static_cast<int>(radius), rim, cv::FILLED, cv::LINE_AA);
  cv::circle(layer, c, static_cast<int>(radius * 0.86f), face, cv::FILLED, cv::LINE_AA);
  cv::circle(alpha, c, static_cast<int>(radius), cv::Scalar(1), cv::FILLED, cv::LINE_AA);
  // Small dials and marks: things that look like digits but are not the window.
  for (int k = 0; k < 4; ++k) {
    cv::Point2f d(c.x + radius * static_cast<float>(r.uni(-0.5, 0.5)),
                  c.y + radius * static_cast<float>(r.uni(0.25, 0.55)));
    int dr = static_cast<int>(radius * r.uni(0.08, 0.14));
    cv::circle(layer, d, dr, cv::Scalar::all(r.uni(0, 80)), 2, cv::LINE_AA);
    cv::line(layer, d, d + cv::Point2f(dr * 0.8f, -dr * 0.3f), cv::Scalar(0, 0, 200), 2, cv::LINE_AA);
  }
  // The reading window: a dark rectangle of white digits, red decimals.
  float ww = radius * static_cast<float>(r.uni(0.95, 1.35)), wh = ww * static_cast<float>(r.uni(0.2, 0.3));
  cv::Point2f wc(c.x, c.y - radius * static_cast<float>(r.uni(0.05, 0.3)));
  cv::Rect2f window(wc.x - ww / 2, wc.y - wh / 2, ww, wh);
  cv::rectangle(layer, window, cv::Scalar::all(r.uni(5, 50)), cv::FILLED);
  s.a = std::to_string(r.integer(0, 99999));
  s.b = digits(r, r.integer(1, 4));
  std::string text = fmt::format("{:0>5}{}", s.a, s.b.substr(0, 3));
  double scale = wh / 30.0;
  int base_line = 0;
  cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 2, &base_line);
  double fit = std::min(1.0, 0.92 * ww / std::max(1, ts.width));
  cv::putText(layer, text,
              cv::Point(static_cast<int>(window.x + 0.04 * ww), static_cast<int>(wc.y + ts.height * fit / 2)),
              cv::FONT_HERSHEY_SIMPLEX, scale * fit, cv::Scalar::all(r.uni(200, 255)), 2, cv::LINE_AA);

  // Placement: turn, tilt (perspective), scale and shift the meter.
  double angle = r.uni(-35, 35), zoom = r.uni(0.75, 1.2);
  cv::Mat rot = cv::getRotationMatrix2D(c, angle, zoom);
  rot.at<double>(0, 2) += r.uni(-0.12, 0.12) * w;
  rot.at<double>(1, 2) += r.uni(-0.12, 0.12) * h;
  std::vector<cv::Point2f> src = {{0, 0}, {float(w), 0}, {float(w), float(h)}, {0, float(h)}}, dst;
  cv::transform(src, dst, rot);
  for (auto& p : dst)
    p += cv::Point2f(static_cast<float>(r.uni(-0.06, 0.06) * m), static_cast<float>(r.uni(-0.06, 0.06) * m));
  cv::Mat H = cv::getPerspectiveTransform(src, dst);
  cv::Mat placed, placed_alpha;
  cv::warpPerspective(layer, placed, H, size, cv::INTER_LINEAR);
  cv::warpPerspective(alpha, placed_alpha, H, size, cv::INTER_LINEAR);
  cv::Mat a3;
  cv::cvtColor(placed_alpha, a3, cv::COLOR_GRAY2BGR);
  canvas = canvas.mul(cv::Scalar::all(1) - a3) + placed.mul(a3);

  std::vector<cv::Point2f> corners = {window.tl(), {window.x + ww, window.y}, window.br(), {window.x, window.y + wh}},
                           wc2;
  cv::perspectiveTransform(corners, wc2, H);
  std::vector<cv::Point> poly;
  for (auto& p : wc2) poly.emplace_back(cvRound(p.x), cvRound(p.y));
  s.mask = cv::Mat::zeros(size, CV_8UC1);
  cv::fillConvexPoly(s.mask, poly, cv::Scalar(255), cv::LINE_8);

  // Light: a gradient across the photo and a gamma; then lens blur and sensor noise.
  cv::Mat gain(size, CV_32FC1);
  double gx = r.uni(-0.5, 0.5), gy = r.uni(-0.5, 0.5), g0 = r.uni(0.7, 1.2);
  for (int y = 0; y < h; ++y) {
    float* row = gain.ptr<float>(y);
    for (int x = 0; x < w; ++x) row[x] = static_cast<float>(g0 + gx * (x - w / 2.0) / w + gy * (y - h / 2.0) / h);
  }
  cv::Mat gain3;
  cv::cvtColor(gain, gain3, cv::COLOR_GRAY2BGR);
  canvas = canvas.mul(gain3);
  double sigma = r.uni(0.0, 1.6);
  if (sigma > 0.3) cv::GaussianBlur(canvas, canvas, cv::Size(0, 0), sigma);
  cv::Mat noise(size, CV_32FC3);
  cv::RNG cvr(r.gen());
  cvr.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(r.uni(2, 9)));
  canvas += noise;
  canvas.convertTo(s.photo, CV_8UC3);  // saturates to 0..255
  return s;
}

}  // namespace

SynthResult synthesize(const std::filesystem::path& out, const SynthOptions& o) {
  if (o.count < 0) throw InvalidInput("synth: --count must be >= 0 (got {})", o.count);
  if (o.long_side < 64 || o.long_side > 8192)
    throw InvalidInput("synth: --size must be 64..8192 (got {})", o.long_side);
  auto start = std::chrono::steady_clock::now();
  util::make_dirs(out / "images");
  util::make_dirs(out / "masks");
  std::atomic<int> with_exif{0};
  util::Progress progress("synth", static_cast<std::size_t>(o.count));
  util::parallel_for(static_cast<std::size_t>(o.count), o.threads, [&](std::size_t i) {
    Rng r{std::mt19937_64(o.seed * 0x9E3779B97F4A7C15ull + i)};
    bool portrait = r.chance(0.6);
    int ls = o.long_side, ss = o.long_side * 3 / 4;
    cv::Size size = portrait ? cv::Size(ss, ls) : cv::Size(ls, ss);
    Sample s = render(r, size);
    std::string stem = fmt::format("id_{}_value_{}_{}", o.first_id + static_cast<int>(i), s.a, s.b);
    cv::Mat stored = s.photo;
    int orientation = 1;
    if (r.chance(o.exif_share)) {
      double u = r.uni(0, 1);
      orientation = u < 0.8 ? 6 : u < 0.9 ? 3 : 8;  // phones: mostly 6
      image::undo_orientation(stored, orientation);
      ++with_exif;
    }
    std::string jpeg = image::encode_jpeg(stored, 90);
    if (orientation != 1) jpeg = image::jpeg_with_orientation(jpeg, orientation);
    util::atomic_write(out / "images" / (stem + ".jpg"), jpeg);
    util::atomic_write(out / "masks" / (stem + ".jpg"), image::encode_jpeg(s.mask, 95));
    progress.tick();
  });
  SynthResult res;
  res.written = o.count;
  res.with_exif = with_exif;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

}  // namespace wms::data
