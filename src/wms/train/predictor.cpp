#include "wms/train/predictor.hpp"

#include <opencv2/imgproc.hpp>

#include <chrono>
#include <mutex>

#include "wms/image/preprocess.hpp"
#include "wms/nn/metrics.hpp"
#include "wms/nn/model_impl.hpp"
#include "wms/nn/unet.hpp"
#include "wms/train/runtime.hpp"
#include "wms/util/parallel.hpp"

namespace wms::train {
namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}
}  // namespace

struct Predictor::State {
  torch::Device device{torch::kCPU};
  bool bf16 = false;
  int threads = 1;
  std::mutex mu;                             // one forward pass at a time (one OpenMP team)
  std::unique_ptr<nn::FoldedUNet> network;  // BatchNorm folded, weights cast once
};

Predictor::Predictor(nn::Model model, PredictOptions options)
    : model_(std::move(model)), options_(options), state_(std::make_unique<State>()) {
  state_->threads = set_compute_threads(options_.threads);
  const Device resolved = resolve_device(options_.device);
  state_->device = torch::Device(resolved == Device::kCuda ? torch::kCUDA : torch::kCPU);
  state_->bf16 = resolve_precision(options_.precision, resolved) == Precision::kBf16;
  std::lock_guard lock(model_.impl().mu);
  state_->network = std::make_unique<nn::FoldedUNet>(*model_.impl().net,
                                                      state_->bf16 ? torch::kBFloat16 : torch::kFloat32, state_->device);
}

Predictor::~Predictor() = default;

Prediction Predictor::predict(const cv::Mat& bgr) {
  return std::move(predict_batch({bgr})[0]);
}

Prediction Predictor::predict_bytes(std::string_view bytes, const std::string& name,
                                    const image::DecodeLimits& limits) {
  auto t0 = Clock::now();
  auto decoded = image::decode_image(bytes, name, limits);
  double decode_ms = ms_since(t0);
  Prediction p = predict(decoded.pixels);
  p.ms_preprocess += decode_ms;
  return p;
}

std::vector<Prediction> Predictor::predict_batch(const std::vector<cv::Mat>& photos) {
  const auto& config = model_.info().config;
  const int size = config.input_size;
  const double threshold = config.threshold;
  const std::size_t n = photos.size();
  std::vector<Prediction> out(n);
  if (n == 0) return out;
  double prep_ms = 0, infer_ms = 0;
  // The photos `which` at one scale: preprocessed, forward (and mirrored), probabilities
  // [which.size(), 1, size, size] at the input size.
  auto view = [&](const std::vector<std::size_t>& which, double scale) {
    auto t0 = Clock::now();
    const int side = nn::view_size(config, scale);
    auto input = torch::empty({static_cast<long>(which.size()), 3, side, side});
    util::parallel_for(which.size(), options_.threads, [&](std::size_t k) {
      image::preprocess_photo(photos[which[k]], side, input.data_ptr<float>() + k * 3 * side * side);
    });
    prep_ms += ms_since(t0);
    auto t1 = Clock::now();
    std::lock_guard lock(state_->mu);
    // The thread count is per calling thread (OpenMP): an HTTP worker starts with
    // PyTorch's own guess, which is one core on these VMs.
    // Setting it also rebuilds PyTorch's thread pool: only when it differs.
    if (at::get_num_threads() != state_->threads) at::set_num_threads(state_->threads);
    torch::InferenceMode guard;
    auto forward = [&](const torch::Tensor& x) { return torch::sigmoid(state_->network->forward(x)); };
    auto x = input.to(state_->device);
    auto p = forward(x);
    if (config.flip_average) p = (p + forward(x.flip({3})).flip({3})) * 0.5;
    if (p.size(-1) != size)
      p = torch::nn::functional::interpolate(p, torch::nn::functional::InterpolateFuncOptions()
                                                    .size(std::vector<std::int64_t>{size, size})
                                                    .mode(torch::kBilinear)
                                                    .align_corners(false));
    p = p.to(torch::kCPU).contiguous();
    infer_ms += ms_since(t1);
    return p;
  };
  std::vector<std::size_t> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  torch::Tensor probs = view(all, config.scales[0]);
  // The other views, for the photos whose first view found a small window or none;
  // combined by maximum.
  std::vector<std::size_t> unsure;
  if (config.scales.size() > 1) {
    torch::InferenceMode guard;
    auto share = (probs > threshold).to(torch::kFloat32).mean({1, 2, 3});
    for (std::size_t i = 0; i < n; ++i)
      if (config.extra_scales_window_below >= 1 || share[i].item<float>() < config.extra_scales_window_below)
        unsure.push_back(i);
  }
  if (!unsure.empty()) {
    torch::InferenceMode guard;
    auto index = torch::tensor(std::vector<std::int64_t>(unsure.begin(), unsure.end()), torch::kLong);
    auto combined = probs.index_select(0, index);
    for (std::size_t s = 1; s < config.scales.size(); ++s)
      combined = torch::maximum(combined, view(unsure, config.scales[s]));
    probs.index_copy_(0, index, combined);
  }
  for (std::size_t i : unsure) out[i].views = static_cast<int>(config.scales.size());
  // Each photo's masks are independent of the others': one photo per thread, as the
  // preprocessing above (nn/regions.hpp's functions are pure).
  util::parallel_for(n, options_.threads, [&](std::size_t i) {
    auto t2 = Clock::now();
    Prediction& p = out[i];
    if (p.views == 0) p.views = 1;
    p.probability = cv::Mat(size, size, CV_32FC1, probs.data_ptr<float>() + i * size * size).clone();
    cv::Mat small;
    cv::compare(p.probability, threshold, small, cv::CMP_GT);
    const nn::Region region = model_.info().config.region;
    small = nn::keep_regions(small, p.probability, region);
    p.mean_confidence = cv::countNonZero(small) ? cv::mean(p.probability, small)[0] : 0.0;
    cv::Mat up;
    cv::resize(p.probability, up, photos[i].size(), 0, 0, cv::INTER_LINEAR);
    cv::compare(up, threshold, p.mask, cv::CMP_GT);
    // The largest region is the largest at the photo's size (as before model.region);
    // the window is the one chosen at input size, on the probabilities.
    if (region == nn::Region::kLargest) p.mask = nn::largest_component(p.mask);
    if (region == nn::Region::kWindow) p.mask = nn::restrict_to(p.mask, small);
    p.area = cv::countNonZero(p.mask);
    if (p.area > 0) p.bbox = cv::boundingRect(p.mask);
    p.ms_preprocess = prep_ms / n;
    p.ms_inference = infer_ms / n;
    p.ms_postprocess = ms_since(t2);
  });
  return out;
}

cv::Mat overlay(const cv::Mat& bgr, const cv::Mat& mask) {
  cv::Mat out = bgr.clone(), tint(bgr.size(), bgr.type(), cv::Scalar(0, 200, 255));
  cv::Mat blended;
  cv::addWeighted(bgr, 0.55, tint, 0.45, 0, blended);
  blended.copyTo(out, mask);
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(mask.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  cv::drawContours(out, contours, -1, cv::Scalar(0, 0, 255), std::max(2, bgr.cols / 300), cv::LINE_AA);
  return out;
}

cv::Mat comparison_overlay(const cv::Mat& bgr, const cv::Mat& predicted, const cv::Mat& truth) {
  cv::Mat out = bgr.clone(), both, only_predicted, only_truth;
  cv::bitwise_and(predicted, truth, both);
  cv::bitwise_and(predicted, ~truth, only_predicted);
  cv::bitwise_and(~predicted, truth, only_truth);
  auto tint = [&](const cv::Mat& where, const cv::Scalar& colour) {
    cv::Mat blended;
    cv::addWeighted(bgr, 0.45, cv::Mat(bgr.size(), bgr.type(), colour), 0.55, 0, blended);
    blended.copyTo(out, where);
  };
  tint(both, cv::Scalar(0, 200, 0));
  tint(only_predicted, cv::Scalar(0, 0, 255));
  tint(only_truth, cv::Scalar(255, 80, 0));
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(truth.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  cv::drawContours(out, contours, -1, cv::Scalar(255, 255, 255), std::max(1, bgr.cols / 500), cv::LINE_AA);
  return out;
}

}  // namespace wms::train
