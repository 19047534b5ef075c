#include "wms/train/evaluator.hpp"

#include <fmt/format.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>

#include "wms/image/decode.hpp"
#include "wms/image/preprocess.hpp"
#include "wms/train/predictor.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/parallel.hpp"
#include "wms/util/progress.hpp"

namespace wms::train {
namespace {

// The predictor's options for scoring: the same post-processing as evaluate()'s.
PredictOptions predict_options(const EvalOptions& o) {
  PredictOptions po;
  po.device = o.device;
  po.threads = o.threads;
  po.precision = o.precision;
  return po;
}

nlohmann::json scores_json(const nn::MaskScores& s) {
  return {{"dice", s.dice}, {"iou", s.iou}, {"accuracy", s.accuracy}, {"hausdorff", s.hausdorff}};
}

DecodedPhotos::Pair decode_pair(const Sample& s) {
  return {image::decode_image(util::read_file(s.image), s.image.string()).pixels,
          image::binarize_mask(image::decode_mask(util::read_file(s.mask), s.mask.string()).pixels)};
}

}  // namespace

std::shared_ptr<const DecodedPhotos::Pair> DecodedPhotos::get(const Sample& s) {
  const auto key = std::make_pair(s.image.string(), s.image_md5);
  {
    std::lock_guard lock(mu_);
    if (auto it = kept_.find(key); it != kept_.end()) return it->second;
  }
  auto pair = std::make_shared<const Pair>(decode_pair(s));  // outside the lock: decoding runs on every core
  const std::size_t size = pair->photo.total() * pair->photo.elemSize() + pair->truth.total();
  std::lock_guard lock(mu_);
  ++decoded_;
  if (bytes_ + size <= budget_ && kept_.emplace(key, pair).second) bytes_ += size;
  return pair;
}

std::size_t DecodedPhotos::decoded() const {
  std::lock_guard lock(mu_);
  return decoded_;
}

std::size_t DecodedPhotos::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

nlohmann::json EvalResult::to_json(bool per_image) const {
  nlohmann::json j = {{"images", images.size()},
                      {"seconds", seconds},
                      {"score_size", score_size},
                      {"extra_views", extra_views},
                      {"at_score_size", scores_json(mean_input)},
                      {"at_full_resolution", scores_json(mean_full)}};
  if (per_image) {
    j["per_image"] = nlohmann::json::array();
    for (const auto& i : images)
      j["per_image"].push_back({{"stem", i.stem},
                                {"split", i.split},
                                {"at_score_size", scores_json(i.at_input)},
                                {"at_full_resolution", scores_json(i.at_full)}});
  }
  return j;
}

std::string EvalResult::to_csv() const {
  std::string out = "stem,split,dice,iou,accuracy,hausdorff,dice_full,iou_full,accuracy_full,hausdorff_full\n";
  // RFC 4180: a stem with a comma, quote or line break is quoted, its quotes doubled.
  auto field = [](const std::string& v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string q = "\"";
    for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (const auto& i : images)
    out += fmt::format("{},{},{:.6f},{:.6f},{:.6f},{:.3f},{:.6f},{:.6f},{:.6f},{:.3f}\n", field(i.stem), i.split,
                       i.at_input.dice, i.at_input.iou, i.at_input.accuracy, i.at_input.hausdorff, i.at_full.dice,
                       i.at_full.iou, i.at_full.accuracy, i.at_full.hausdorff);
  return out;
}

EvalResult evaluate(const nn::Model& model, const std::vector<Sample>& samples, const EvalOptions& o) {
  auto start = std::chrono::steady_clock::now();
  Predictor predictor(model, predict_options(o));
  const int size = model.info().config.input_size;
  const double threshold = model.info().config.threshold;
  EvalResult r;
  r.images.resize(samples.size());
  const int score = o.score_size > 0 ? o.score_size : size;
  r.score_size = score;
  util::Progress progress("evaluate", samples.size());
  const std::size_t chunk = static_cast<std::size_t>(std::max(1, o.batch));
  for (std::size_t begin = 0; begin < samples.size(); begin += chunk) {
    std::size_t n = std::min(chunk, samples.size() - begin);
    std::vector<cv::Mat> photos(n), truths(n);
    util::parallel_for(n, o.threads, [&](std::size_t k) {
      const Sample& s = samples[begin + k];
      if (o.photos) {
        auto pair = o.photos->get(s);  // cv::Mat headers share the kept pixels (read-only here)
        photos[k] = pair->photo;
        truths[k] = pair->truth;
      } else {
        auto pair = decode_pair(s);
        photos[k] = pair.photo;
        truths[k] = pair.truth;
      }
    });
    auto preds = predictor.predict_batch(photos);
    for (const auto& p : preds) r.extra_views += p.views > 1;
    util::parallel_for(n, o.threads, [&](std::size_t k) {
      ImageScores& is = r.images[begin + k];
      is.stem = samples[begin + k].stem;
      is.split = data::split_name(samples[begin + k].split);
      cv::Mat prob = preds[k].probability, small;
      if (score != size) cv::resize(prob, prob, cv::Size(score, score), 0, 0, cv::INTER_LINEAR);
      cv::compare(prob, threshold, small, cv::CMP_GT);
      small = nn::keep_regions(small, prob, model.info().config.region);
      is.at_input = nn::score_masks(small, image::resize_mask(truths[k], score), true);
      if (o.full_resolution) is.at_full = nn::score_masks(preds[k].mask, truths[k], true);
      progress.tick();
    });
  }
  std::vector<nn::MaskScores> a, b;
  for (const auto& i : r.images) {
    a.push_back(i.at_input);
    b.push_back(i.at_full);
  }
  r.mean_input = nn::mean_scores(a);
  r.mean_full = nn::mean_scores(b);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::vector<fs::path> write_worst(const nn::Model& model, const std::vector<Sample>& samples, const EvalResult& result,
                                  std::size_t n, const fs::path& dir, const EvalOptions& o) {
  const bool full = o.full_resolution;
  std::vector<std::size_t> order(result.images.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto dice = [&](std::size_t i) { return full ? result.images[i].at_full.dice : result.images[i].at_input.dice; };
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return dice(a) != dice(b) ? dice(a) < dice(b) : result.images[a].stem < result.images[b].stem;
  });
  order.resize(std::min(n, order.size()));
  Predictor predictor(model, predict_options(o));
  util::make_dirs(dir);
  std::vector<fs::path> written;
  for (std::size_t rank = 0; rank < order.size(); ++rank) {
    const Sample& s = samples.at(order[rank]);
    cv::Mat photo = image::decode_image(util::read_file(s.image), s.image.string()).pixels;
    cv::Mat truth = image::binarize_mask(image::decode_mask(util::read_file(s.mask), s.mask.string()).pixels);
    if (truth.size() != photo.size()) cv::resize(truth, truth, photo.size(), 0, 0, cv::INTER_NEAREST);
    auto pred = predictor.predict(photo);
    cv::Mat shown = comparison_overlay(photo, pred.mask, truth);
    std::string caption = fmt::format("{}  Dice {:.3f}", s.stem, dice(order[rank]));
    const double scale = std::max(0.5, shown.cols / 900.0);
    cv::putText(shown, caption, {10, static_cast<int>(30 * scale)}, cv::FONT_HERSHEY_SIMPLEX, scale,
                cv::Scalar(0, 0, 0), static_cast<int>(4 * scale), cv::LINE_AA);
    cv::putText(shown, caption, {10, static_cast<int>(30 * scale)}, cv::FONT_HERSHEY_SIMPLEX, scale,
                cv::Scalar(255, 255, 255), static_cast<int>(std::max(1.0, 1.5 * scale)), cv::LINE_AA);
    std::string name = s.stem;
    for (std::size_t at; (at = name.find('/')) != std::string::npos;) name.replace(at, 1, "__");
    fs::path f = dir / fmt::format("{:02}-{}.jpg", rank + 1, name);
    util::atomic_write(f, image::encode_jpeg(shown, 90));
    written.push_back(f);
  }
  return written;
}

}  // namespace wms::train
