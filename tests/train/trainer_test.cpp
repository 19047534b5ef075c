// Training end to end on synthetic meters: it learns, it is deterministic, and the
// predictor agrees with itself across batching and EXIF orientation.
#include "wms/train/trainer.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <thread>

#include "testing.hpp"
#include "wms/data/synth.hpp"
#include "wms/data/validate.hpp"
#include "wms/image/decode.hpp"
#include "wms/image/exif.hpp"
#include "wms/nn/model_impl.hpp"
#include "wms/train/cache.hpp"
#include "wms/train/evaluator.hpp"
#include "wms/train/loader.hpp"
#include "wms/train/predictor.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"

namespace wms::train {
namespace {

using wms::testing::TempDir;

std::vector<Sample> synthetic(const TempDir& t, int count, std::uint64_t seed) {
  data::SynthOptions so;
  so.count = count;
  so.seed = seed;
  so.long_side = 192;
  data::synthesize(t / "b", so);
  data::ValidationOptions vo;
  return samples_from_dir(t / "b", data::SplitFractions{}, vo);
}

TrainOptions fast_options() {
  TrainOptions o;
  o.model.input_size = 96;
  o.epochs = 12;
  o.batch_size = 8;
  o.learning_rate = 3e-3;
  o.loss = Loss::kBceDice;
  o.scheduler = Scheduler::kOneCycle;
  o.select = Select::kValDice;
  o.foreground_prior_bias = true;
  o.early_stopping_patience = 0;
  o.seed = 5;
  return o;
}

// A few hundred steps on synthetic meters find the window on held-out photos.
TEST(Trainer, LearnsSyntheticMetersAboveDice08OnHeldOutPhotos) {
  TempDir t;
  auto all = synthetic(t, 200, 5);
  auto train = only(all, data::Split::kTrain), val = only(all, data::Split::kVal), test = only(all, data::Split::kTest);
  ASSERT_GE(test.size(), 10u);
  auto r = train_model(train, val, fast_options());
  ASSERT_TRUE(r.model);
  EXPECT_EQ(r.history.size(), 12u);
  auto ev = evaluate(*r.model, test);
  EXPECT_GT(ev.mean_input.dice, 0.8) << "held-out Dice";
  EXPECT_GT(ev.mean_full.dice, 0.8) << "held-out Dice at full resolution";
  EXPECT_EQ(r.model->info().metrics["best_epoch"], r.best_epoch);
}

// Two short epochs on small photos, with a fixed thread count (deterministic).
TrainOptions two_epochs() {
  auto o = fast_options();
  o.model.input_size = 48;
  o.epochs = 2;
  o.threads = 2;
  return o;
}

TEST(Trainer, SameSeedSameDataSameThreadsSameWeights) {
  TempDir t;
  auto all = synthetic(t, 24, 9);
  auto o = two_epochs();
  auto a = train_model(only(all, data::Split::kTrain), only(all, data::Split::kVal), o);
  auto b = train_model(only(all, data::Split::kTrain), only(all, data::Split::kVal), o);
  a.model->info().created = b.model->info().created;  // only the clock may differ
  EXPECT_EQ(a.model->to_bytes(), b.model->to_bytes());
  o.seed = 6;
  auto c = train_model(only(all, data::Split::kTrain), only(all, data::Split::kVal), o);
  c.model->info().created = a.model->info().created;
  c.model->info().seed = a.model->info().seed;
  c.model->info().params = a.model->info().params;
  EXPECT_NE(a.model->to_bytes(), c.model->to_bytes());
}

TEST(Trainer, EarlyStoppingAndTimeBudgetEndTraining) {
  TempDir t;
  auto all = synthetic(t, 16, 2);
  auto o = fast_options();
  o.model.input_size = 32;
  o.epochs = 50;
  o.learning_rate = 1e-9;  // nothing improves
  o.select = Select::kValLoss;
  o.early_stopping_patience = 2;
  auto r = train_model(only(all, data::Split::kTrain), all, o);
  EXPECT_EQ(r.stop_reason, "early_stopping");
  EXPECT_LT(r.history.size(), 50u);
  o.early_stopping_patience = 0;
  o.time_budget_minutes = 1e-6;
  EXPECT_EQ(train_model(only(all, data::Split::kTrain), all, o).history.size(), 1u);
}

// A time budget re-plans the run as epochs turn out slower or faster (here the first
// five are slowed, as a busy neighbour would): the one-cycle rate still rises to its
// peak once, then only falls, and is annealed by the last epoch.
TEST(Trainer, ATimeBudgetKeepsTheScheduleWhole) {
  TempDir t;
  auto all = synthetic(t, 16, 2);
  auto o = fast_options();
  o.model.input_size = 32;
  o.epochs = 400;
  // 12 s: on a loaded 2-core CI machine an epoch here took ~0.8 s (7 fitted in 6 s).
  o.time_budget_minutes = 0.2;
  struct Count : MetricsSink {
    int epochs = 0;
    void epoch(const EpochMetrics&) override { ++epochs; }
  } count;
  auto slow = [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(count.epochs < 5 ? 60 : 10));
    return false;
  };
  auto r = train_model(only(all, data::Split::kTrain), only(all, data::Split::kVal), o, &count, slow);
  EXPECT_EQ(r.stop_reason, "time_budget");
  ASSERT_GE(r.history.size(), 6u) << "the five slowed epochs and at least one after them";
  std::size_t peak = 0;
  for (std::size_t i = 0; i < r.history.size(); ++i)
    if (r.history[i].learning_rate > r.history[peak].learning_rate) peak = i;
  for (std::size_t i = 1; i < r.history.size(); ++i) {
    if (i <= peak)
      EXPECT_GE(r.history[i].learning_rate, r.history[i - 1].learning_rate) << "warm-up, epoch " << i + 1;
    else
      EXPECT_LE(r.history[i].learning_rate, r.history[i - 1].learning_rate) << "annealing, epoch " << i + 1;
  }
  EXPECT_LT(r.history.back().learning_rate, o.learning_rate * 1e-2) << "annealed by the end of the budget";
  EXPECT_GT(r.history[peak].learning_rate, o.learning_rate * 0.9) << "reached its peak";
}

TEST(Trainer, ShouldStopCancels) {
  TempDir t;
  auto all = synthetic(t, 8, 2);
  auto o = fast_options();
  o.model.input_size = 32;
  EXPECT_THROW(train_model(all, {}, o, nullptr, [] { return true; }), Cancelled);
}

// A run's evaluations share the decoded photos: the second reads none of the files
// (they are gone) and scores the same; past the byte budget, pairs are decoded again.
TEST(Evaluate, DecodedPhotosAreDecodedOncePerRun) {
  TempDir t;
  auto all = synthetic(t, 6, 11);
  nn::ModelConfig c;
  c.input_size = 32;
  nn::Model m(c, 1);
  EvalOptions o;
  DecodedPhotos photos;
  o.photos = &photos;
  auto first = evaluate(m, all, o);
  EXPECT_EQ(photos.decoded(), all.size());
  EXPECT_GT(photos.bytes(), 0u);
  for (const auto& s : all) {
    fs::remove(s.image);
    fs::remove(s.mask);
  }
  auto second = evaluate(m, all, o);
  EXPECT_EQ(photos.decoded(), all.size());
  EXPECT_EQ(second.to_csv(), first.to_csv());
  EXPECT_THROW(evaluate(m, all, EvalOptions{}), Error);  // without them: the files are read (and missing)

  auto again = synthetic(t, 6, 12);
  DecodedPhotos small(1);  // a byte: nothing is kept
  o.photos = &small;
  evaluate(m, again, o);
  evaluate(m, again, o);
  EXPECT_EQ(small.decoded(), 2 * again.size());
  EXPECT_EQ(small.bytes(), 0u);
}

TEST(Predictor, BatchedEqualsOneByOne) {
  TempDir t;
  auto all = synthetic(t, 3, 4);
  nn::ModelConfig c;
  c.input_size = 64;
  Predictor p(nn::Model(c, 1));
  std::vector<cv::Mat> photos;
  for (const auto& s : all) photos.push_back(image::decode_image(util::read_file(s.image), "x").pixels);
  auto batched = p.predict_batch(photos);
  for (std::size_t i = 0; i < photos.size(); ++i) {
    auto one = p.predict(photos[i]);
    EXPECT_LE(cv::norm(one.probability, batched[i].probability, cv::NORM_INF), 1e-5);
    EXPECT_EQ(one.mask.size(), photos[i].size());
  }
}

// A photo stored rotated with an EXIF tag gives the same mask, in the displayed
// frame, as the same photo stored upright.
TEST(Predictor, MasksAreAtOriginalSizeWithOrientationApplied) {
  TempDir t;
  auto all = synthetic(t, 1, 4);
  nn::ModelConfig c;
  c.input_size = 64;
  Predictor p(nn::Model(c, 1));
  cv::Mat upright = image::decode_image(util::read_file(all[0].image), "x").pixels;
  cv::Mat wide;
  cv::resize(upright, wide, cv::Size(150, 90));  // not square: a swapped size would show
  std::string png = image::encode_png(wide);
  cv::Mat stored = wide.clone();
  image::undo_orientation(stored, 6);
  std::string tagged = image::jpeg_with_orientation(image::encode_jpeg(stored, 100), 6);
  auto a = p.predict_bytes(image::encode_jpeg(wide, 100), "upright.jpg");
  auto b = p.predict_bytes(tagged, "tagged.jpg");
  ASSERT_EQ(b.mask.size(), cv::Size(150, 90));
  ASSERT_EQ(a.mask.size(), cv::Size(150, 90));
  EXPECT_LT(cv::norm(a.probability, b.probability, cv::NORM_INF), 0.05);
}

// Crops are windows of the augmented, stretched image: photo and mask cut at the same
// place, and with foreground = 1 every crop holds the mask's centre.
TEST(Loader, CropsCutPhotoAndMaskTogetherAroundTheWindow) {
  TempDir t;
  auto all = synthetic(t, 6, 3);
  SampleCache cache;
  cache.add(all, 128, 1);
  std::vector<const CachedSample*> items;
  for (const auto& s : all) items.push_back(&cache.get(s, 128));
  image::AugmentOptions none;
  none.hflip = none.vflip = none.rotation_prob = none.brightness_prob = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Batch b = make_batch(items, 128, &none, seed, CropOptions{64, 1.0});
    ASSERT_EQ(b.size, 64);
    ASSERT_EQ(b.x.size(), items.size() * 3 * 64 * 64);
    Batch whole = make_batch(items, 128, &none, seed);
    ASSERT_EQ(whole.size, 128);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const float* y = b.y.data() + i * 64 * 64;
      EXPECT_GT(std::count(y, y + 64 * 64, 1.0f), 0) << "the crop holds the window";
      // Find where the crop sits in the whole image: its photo and mask planes must
      // both match the whole image's at that offset.
      const float* cx = b.x.data() + i * 3 * 64 * 64;
      const float* wx = whole.x.data() + i * 3 * 128 * 128;
      const float* wy = whole.y.data() + i * 128 * 128;
      bool found = false;
      for (int oy = 0; oy <= 64 && !found; ++oy)
        for (int ox = 0; ox <= 64 && !found; ++ox) {
          bool same = true;
          for (int r = 0; r < 64 && same; r += 7)
            for (int c = 0; c < 64 && same; c += 5)
              same = cx[r * 64 + c] == wx[(oy + r) * 128 + ox + c] && y[r * 64 + c] == wy[(oy + r) * 128 + ox + c];
          found = same;
        }
      EXPECT_TRUE(found) << "photo and mask crops come from the same place";
    }
  }
}

// select: last trains on the validation photos too, validates nothing, keeps the last
// epoch, and reports no validation metrics (rather than zeros).
// Mined regions: far from the window and large enough; the window itself and its edge
// (a predicted region touching the window widened by size/32) are never hard negatives.
TEST(Loader, HardNegativesAreLargeRegionsAwayFromTheWindow) {
  cv::Mat mask = cv::Mat::zeros(128, 128, CV_8UC1), predicted = cv::Mat::zeros(128, 128, CV_8UC1);
  mask(cv::Rect(40, 40, 30, 10)).setTo(kWindow);
  predicted(cv::Rect(38, 38, 34, 14)).setTo(1);   // the window, a little too wide
  predicted(cv::Rect(40, 53, 20, 3)).setTo(1);    // 3 px below it: its edge
  predicted(cv::Rect(90, 90, 20, 6)).setTo(255);  // a hose far away: 120 px
  predicted(cv::Rect(10, 110, 2, 2)).setTo(1);     // 4 px = (128/64)^2: just large enough
  predicted(cv::Rect(120, 10, 1, 3)).setTo(1);    // 3 px: too small
  EXPECT_EQ(mark_hard_negatives(predicted, mask), 2);
  EXPECT_EQ(cv::countNonZero(mask == kWindow), 300) << "the window is untouched";
  EXPECT_EQ(cv::countNonZero(mask == kHardNegative), 120 + 4);
  EXPECT_EQ(mask.at<std::uint8_t>(92, 95), kHardNegative);
  EXPECT_EQ(mask.at<std::uint8_t>(54, 45), kBackground) << "the window's edge";
  EXPECT_EQ(mask.at<std::uint8_t>(11, 120), kBackground) << "too small";
}

// With hard_negative = 1 every crop of a photo with mined pixels holds one, and they
// are background in the target; the window's crops still find the window.
TEST(Loader, HardNegativeCropsHoldAMinedRegionTrainedAsBackground) {
  TempDir t;
  auto all = synthetic(t, 4, 3);
  SampleCache cache;
  cache.add(all, 128, 1);
  std::vector<CachedSample> mined;
  for (const auto& s : all) {
    CachedSample c = cache.get(s, 128);
    c.mask = c.mask.clone();
    cv::Mat far = c.mask == kBackground;
    cv::erode(far, far, cv::getStructuringElement(cv::MORPH_RECT, {41, 41}));  // 20 px from the window
    std::vector<cv::Point> free;
    cv::findNonZero(far, free);
    ASSERT_FALSE(free.empty());
    c.mask(cv::Rect(free[free.size() / 2], cv::Size(1, 1))).setTo(kHardNegative);
    mined.push_back(c);
  }
  std::vector<const CachedSample*> items;
  for (const auto& c : mined) items.push_back(&c);
  image::AugmentOptions none;
  none.hflip = none.vflip = none.rotation_prob = none.brightness_prob = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    Batch hard = make_batch(items, 128, &none, seed, CropOptions{32, 0.0, 1.0});
    Batch window = make_batch(items, 128, &none, seed, CropOptions{32, 1.0, 0.0});
    Batch whole = make_batch(items, 128, &none, seed);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const float* y = window.y.data() + i * 32 * 32;
      EXPECT_GT(std::count(y, y + 32 * 32, 1.0f), 0) << "the window's crops hold the window";
      // The hard crop holds the one mined pixel: find it by the whole photo's pixels.
      cv::Point p;
      cv::minMaxLoc(items[i]->mask == kHardNegative, nullptr, nullptr, nullptr, &p);
      const float* hx = hard.x.data() + i * 3 * 32 * 32;
      const float* wx = whole.x.data() + i * 3 * 128 * 128;
      bool holds = false;
      for (int oy = std::max(0, p.y - 31); oy <= std::min(p.y, 96) && !holds; ++oy)
        for (int ox = std::max(0, p.x - 31); ox <= std::min(p.x, 96) && !holds; ++ox) {
          bool same = true;
          for (int r = 0; r < 32 && same; r += 3)
            for (int c = 0; c < 32 && same; c += 3) same = hx[r * 32 + c] == wx[(oy + r) * 128 + ox + c];
          holds = same;
        }
      EXPECT_TRUE(holds) << "photo " << i << ": the crop holds the mined pixel";
      EXPECT_EQ(whole.y[i * 128 * 128 + p.y * 128 + p.x], 0.0f) << "a hard negative is background";
    }
  }
}

// Training with hard negatives: the same seed gives the same weights, and the epochs
// record what was mined.
TEST(Trainer, HardNegativeTrainingIsReproducible) {
  TempDir t;
  auto all = synthetic(t, 24, 6);
  auto o = fast_options();
  o.model.input_size = 64;
  o.crop_size = 32;
  o.hard_negatives = 0.3;
  o.epochs = 5;
  auto train = only(all, data::Split::kTrain), val = only(all, data::Split::kVal);
  auto a = train_model(train, val, o);
  auto b = train_model(train, val, o);
  b.model->info().created = a.model->info().created;
  EXPECT_EQ(a.model->to_bytes(), b.model->to_bytes());
  EXPECT_EQ(a.model->info().params["hard_negatives"], 0.3);
  // An untrained synthetic model may find no false positives: what is checked is that
  // the records say so consistently (regions > 0 exactly where photos > 0).
  for (const auto& m : a.history) EXPECT_EQ(m.hard_negative_regions > 0, m.hard_negative_photos > 0);
  auto j = a.history[1].to_json();
  EXPECT_EQ(EpochMetrics::from_json(j).hard_negative_regions, a.history[1].hard_negative_regions);
}

TEST(Trainer, SelectLastTrainsOnTheValidationPhotos) {
  TempDir t;
  auto all = synthetic(t, 24, 9);
  auto o = two_epochs();
  auto train = only(all, data::Split::kTrain), val = only(all, data::Split::kVal);
  ASSERT_FALSE(val.empty());
  o.select = Select::kLast;
  auto a = train_model(train, val, o);
  EXPECT_EQ(a.best_epoch, 2);
  EXPECT_FALSE(a.history[0].validated);
  EXPECT_FALSE(a.history[0].to_json().contains("val_dice"));
  EXPECT_FALSE(a.model->info().metrics.contains("val_dice"));
  EXPECT_EQ(a.model->info().metrics["best_epoch"], 2);
  auto together = train;
  together.insert(together.end(), val.begin(), val.end());
  auto b = train_model(together, {}, o);
  b.model->info().created = a.model->info().created;
  EXPECT_EQ(a.model->to_bytes(), b.model->to_bytes()) << "the same as training on train + val";
  EXPECT_EQ(a.history[1].train_loss, b.history[1].train_loss);
  o.select = Select::kValDice;
  auto c = train_model(train, val, o);
  EXPECT_TRUE(c.history[0].validated);
  EXPECT_TRUE(c.model->info().metrics.contains("val_dice"));
  EXPECT_NE(c.history[1].train_loss, a.history[1].train_loss) << "fewer photos, other batches";
}

TEST(Trainer, CropTrainingPredictsWholeImages) {
  TempDir t;
  auto all = synthetic(t, 24, 6);
  auto o = fast_options();
  o.model.input_size = 64;
  o.crop_size = 32;
  o.epochs = 1;
  auto r = train_model(only(all, data::Split::kTrain), only(all, data::Split::kVal), o);
  EXPECT_EQ(r.model->info().config.input_size, 64) << "the model predicts at the full input size";
  EXPECT_EQ(r.model->info().params["crop_size"], 32);
}

TEST(Trainer, WarmStartUsesItsOwnSchedule) {
  TempDir t;
  auto all = synthetic(t, 16, 2);
  auto o = fast_options();
  o.model.input_size = 32;
  o.epochs = 3;
  o.warm_epochs = 1;
  o.warm_learning_rate = 1e-4;
  auto base = train_model(only(all, data::Split::kTrain), all, o);
  EXPECT_EQ(base.history.size(), 3u) << "from scratch: the main schedule";
  auto warm = train_model(only(all, data::Split::kTrain), all, o, nullptr, {}, &*base.model);
  EXPECT_EQ(warm.history.size(), 1u);
  EXPECT_LE(warm.history[0].learning_rate, 1e-4);
}

TEST(Predictor, FlipAverageIsSymmetricAndKeptInTheBundle) {
  TempDir t;
  auto all = synthetic(t, 1, 4);
  nn::ModelConfig c;
  c.input_size = 64;
  c.flip_average = true;
  nn::Model m(c, 1);
  m.save(t / "m.wms");
  auto loaded = nn::Model::load(t / "m.wms");
  ASSERT_TRUE(loaded.info().config.flip_average);
  Predictor p(loaded);
  cv::Mat photo = image::decode_image(util::read_file(all[0].image), "x").pixels, mirrored;
  cv::flip(photo, mirrored, 1);
  auto a = p.predict(photo), b = p.predict(mirrored);
  cv::Mat back;
  cv::flip(b.probability, back, 1);
  EXPECT_LE(cv::norm(a.probability, back, cv::NORM_INF), 2e-2) << "a photo and its mirror image get mirrored masks";
  c.flip_average = false;
  Predictor plain(nn::Model(c, 1));
  EXPECT_GT(cv::norm(plain.predict(photo).probability, a.probability, cv::NORM_INF), 1e-4) << "the flag changes masks";
}

TEST(Predictor, ScalesTakeTheMaximumOverViewsAndAreKeptInTheBundle) {
  TempDir t;
  auto all = synthetic(t, 1, 4);
  nn::ModelConfig c;
  c.input_size = 64;
  nn::Model one(c, 3);
  c.scales = {1.0, 1.5};
  nn::Model two(c, 3);  // same seed: the same weights
  two.save(t / "m.wms");
  auto loaded = nn::Model::load(t / "m.wms");
  ASSERT_EQ(loaded.info().config.scales, (std::vector<double>{1.0, 1.5}));
  EXPECT_EQ(nn::view_size(c, 1.5), 96);
  cv::Mat photo = image::decode_image(util::read_file(all[0].image), "x").pixels;
  auto a = Predictor(one).predict(photo), b = Predictor(loaded).predict(photo);
  ASSERT_EQ(b.probability.size(), a.probability.size()) << "the views come back at the input size";
  cv::Mat below;
  cv::compare(b.probability, a.probability - 1e-6, below, cv::CMP_LT);
  EXPECT_EQ(cv::countNonZero(below), 0) << "the maximum over views is never below the single view";
  EXPECT_GT(cv::norm(a.probability, b.probability, cv::NORM_INF), 1e-4) << "the larger view changes masks";
  c.scales = {1.0, 9.0};
  EXPECT_THROW(nn::Model(c, 3), InvalidInput);
  c.scales = {};
  EXPECT_THROW(nn::Model(c, 3), InvalidInput);
}

// extra_scales_window_below: a photo whose first view finds a large window keeps that
// view's mask and costs one view; a small window or none gets every view.
TEST(Predictor, ExtraScalesOnlyForPhotosWithASmallWindowOrNone) {
  TempDir t;
  auto all = synthetic(t, 1, 4);
  cv::Mat photo = image::decode_image(util::read_file(all[0].image), "x").pixels;
  nn::ModelConfig c;
  c.input_size = 64;
  auto with_bias = [&](const nn::ModelConfig& config, double bias) {
    nn::Model m(config, 3);
    torch::NoGradGuard no_grad;
    m.impl().net->final->bias.fill_(bias);
    return m;
  };
  nn::ModelConfig two = c;
  two.scales = {1.0, 1.5};
  two.extra_scales_window_below = 0.02;
  // Everything found: a large window, the larger view is skipped.
  auto large = Predictor(with_bias(two, 30)).predict(photo);
  EXPECT_EQ(large.views, 1);
  auto single = Predictor(with_bias(c, 30)).predict(photo);
  EXPECT_EQ(cv::norm(large.probability, single.probability, cv::NORM_INF), 0) << "it keeps its first view";
  // Nothing found: every view is looked at.
  EXPECT_EQ(Predictor(with_bias(two, -30)).predict(photo).views, 2);
  // A window of ~1% of the photo: the threshold set at the first view's 99th percentile.
  cv::Mat first = Predictor(with_bias(c, 0)).predict(photo).probability.reshape(1, 1).clone();
  cv::sort(first, first, cv::SORT_EVERY_ROW | cv::SORT_ASCENDING);
  two.threshold = first.at<float>(0, static_cast<int>(first.cols * 0.99));
  EXPECT_EQ(Predictor(with_bias(two, 0)).predict(photo).views, 2) << "1% < 2%: small";
  two.extra_scales_window_below = 0.005;
  EXPECT_EQ(Predictor(with_bias(two, 0)).predict(photo).views, 1) << "1% > 0.5%: large enough";
  // 1 (the default): every photo gets every view.
  two.threshold = 0.5;
  two.extra_scales_window_below = 1.0;
  EXPECT_EQ(Predictor(with_bias(two, 30)).predict(photo).views, 2);
  // In a batch only the photos with a small window are looked at again, and the
  // answers are those one by one.
  two.extra_scales_window_below = 0.02;
  cv::Mat blank(photo.size(), photo.type(), cv::Scalar(128, 128, 128));
  nn::Model m = with_bias(two, 2.0);
  Predictor p(m);
  auto batch = p.predict_batch({photo, blank});
  auto one = p.predict(photo), other = p.predict(blank);
  EXPECT_EQ(batch[0].views, one.views);
  EXPECT_EQ(batch[1].views, other.views);
  EXPECT_LE(cv::norm(batch[0].probability, one.probability, cv::NORM_INF), 1e-3);
  EXPECT_LE(cv::norm(batch[1].probability, other.probability, cv::NORM_INF), 1e-3);
  // Kept in the bundle; out of range refused.
  m.save(t / "m.wms");
  EXPECT_DOUBLE_EQ(nn::Model::load(t / "m.wms").info().config.extra_scales_window_below, 0.02);
  two.extra_scales_window_below = 0;
  EXPECT_THROW(nn::Model(two, 3), InvalidInput);
  two.extra_scales_window_below = 1.5;
  EXPECT_THROW(nn::Model(two, 3), InvalidInput);
}

}  // namespace
}  // namespace wms::train
