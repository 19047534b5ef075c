#include "wms/train/loader.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include <opencv2/imgproc.hpp>

#include "wms/image/preprocess.hpp"

namespace wms::train {

namespace {

// The top-left corner of a crop x crop window in a size x size mask (MaskValue).
cv::Point crop_origin(const cv::Mat& mask, const CropOptions& o, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int crop = o.crop, span = mask.cols - crop;
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  // A crop holding the point (x, y), anywhere around it.
  auto around = [&](int x, int y) -> cv::Point {
    return {pick(std::max(0, x - crop + 1), std::min(x, span)), pick(std::max(0, y - crop + 1), std::min(y, span))};
  };
  const double draw = u(rng);
  if (draw < o.foreground) {
    cv::Moments m = cv::moments(mask == kWindow, true);
    if (m.m00 > 0) return around(static_cast<int>(m.m10 / m.m00), static_cast<int>(m.m01 / m.m00));
  } else if (draw < o.foreground + o.hard_negative) {
    std::vector<cv::Point> hard;
    cv::findNonZero(mask == kHardNegative, hard);
    if (!hard.empty()) {
      const cv::Point p = hard[std::uniform_int_distribution<std::size_t>(0, hard.size() - 1)(rng)];
      return around(p.x, p.y);
    }
  }
  return {pick(0, span), pick(0, span)};
}

}  // namespace

Batch make_batch(const std::vector<const CachedSample*>& items, int size, const image::AugmentOptions* augment,
                 std::uint64_t seed, CropOptions crop) {
  Batch b;
  b.n = static_cast<int>(items.size());
  const bool cropping = crop.crop > 0 && crop.crop < size;
  b.size = cropping ? crop.crop : size;
  const int side = b.size;
  const std::size_t plane = static_cast<std::size_t>(side) * side;
  b.x.resize(b.n * 3 * plane);
  b.y.resize(b.n * plane);
  for (int i = 0; i < b.n; ++i) {
    cv::Mat photo = items[i]->photo, mask = items[i]->mask;
    float brightness = 1.0f;
    std::mt19937_64 rng(seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(i + 1));
    if (augment) {
      image::AugmentDraw d = image::draw_augment(rng, *augment);
      photo = photo.clone();
      mask = mask.clone();
      image::apply_geometric(photo, mask, d);
      brightness = d.brightness;
    }
    photo = image::stretch_and_median(photo);  // over the whole image, as at inference
    if (cropping) {
      cv::Rect window(crop_origin(mask, {side, crop.foreground, crop.hard_negative}, rng), cv::Size(side, side));
      photo = photo(window);
      mask = mask(window);
    }
    image::to_chw(photo, b.x.data() + i * 3 * plane, brightness);
    float* y = b.y.data() + i * plane;
    for (int r = 0; r < side; ++r) {
      const std::uint8_t* m = mask.ptr<std::uint8_t>(r);
      for (int c = 0; c < side; ++c) y[r * side + c] = m[c] == kWindow ? 1.0f : 0.0f;
    }
  }
  return b;
}

BatchLoader::BatchLoader(std::vector<const CachedSample*> items, int size, int batch_size,
                         image::AugmentOptions augment, std::uint64_t seed, CropOptions crop, int prefetch)
    : items_(std::move(items)),
      size_(size),
      batch_size_(batch_size),
      prefetch_(prefetch),
      augment_(augment),
      seed_(seed),
      crop_(crop) {}

BatchLoader::~BatchLoader() {
  stop();
}

void BatchLoader::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

int mark_hard_negatives(const cv::Mat& predicted, cv::Mat& mask) {
  CV_Assert(predicted.type() == CV_8UC1 && mask.type() == CV_8UC1 && predicted.size() == mask.size());
  const int size = mask.cols, margin = size / 32, min_area = (size / 64) * (size / 64);
  cv::Mat near;
  cv::dilate(mask == kWindow, near, cv::getStructuringElement(cv::MORPH_RECT, {2 * margin + 1, 2 * margin + 1}));
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(predicted != 0, labels, stats, centroids, 8, CV_32S);
  int found = 0;
  for (int l = 1; l < n; ++l) {
    if (stats.at<int>(l, cv::CC_STAT_AREA) < min_area) continue;
    cv::Mat region = labels == l;
    if (cv::countNonZero(region & near) > 0) continue;
    mask.setTo(kHardNegative, region);
    ++found;
  }
  return found;
}

void BatchLoader::set_items(std::vector<const CachedSample*> items) {
  stop();
  items_ = std::move(items);
}

int BatchLoader::start_epoch(int epoch) {
  stop();
  int batches = static_cast<int>((items_.size() + batch_size_ - 1) / batch_size_);
  {
    std::lock_guard lock(mu_);
    ready_.clear();
    stopping_ = false;
    error_ = nullptr;
    remaining_ = batches;
  }
  worker_ = std::thread([this, epoch] { run(epoch); });
  return batches;
}

void BatchLoader::run(int epoch) {
  try {
    std::vector<std::size_t> order(items_.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed_ * 1000003ull + static_cast<std::uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t start = 0; start < order.size(); start += batch_size_) {
      std::vector<const CachedSample*> group;
      for (std::size_t k = start; k < std::min(order.size(), start + batch_size_); ++k)
        group.push_back(items_[order[k]]);
      std::uint64_t batch_seed = rng();
      Batch b = make_batch(group, size_, &augment_, batch_seed, crop_);
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || static_cast<int>(ready_.size()) < prefetch_; });
      if (stopping_) return;
      ready_.push_back(std::move(b));
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard lock(mu_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock lock(mu_);
  if (remaining_ == 0) return std::nullopt;
  cv_.wait(lock, [&] { return !ready_.empty() || error_; });
  if (error_) std::rethrow_exception(error_);
  Batch b = std::move(ready_.front());
  ready_.pop_front();
  --remaining_;
  cv_.notify_all();
  return b;
}

}  // namespace wms::train
