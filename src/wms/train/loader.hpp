// The batch loader: prepares the next training batches on a background thread while
// the model trains on the current one. Each sample: cached photo and mask ->
// augmentation (flips, rotation) -> stretch + median -> optional crop -> float CHW
// with brightness.
//
// Deterministic: the order of an epoch and every augmentation draw come from
// (seed, epoch, position), never from thread timing. One consumer thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "wms/image/augment.hpp"
#include "wms/train/cache.hpp"

namespace wms::train {

struct Batch {
  int n = 0;             ///< images in this batch
  int size = 0;          ///< height = width (the crop's when cropping)
  std::vector<float> x;  ///< n x 3 x size x size
  std::vector<float> y;  ///< n x 1 x size x size (0/1)
};

/// Random crops: crop x crop windows; a share `foreground` of them contain the mask's
/// centre, and a share `hard_negative` one of its kHardNegative pixels (drawn
/// uniformly, so larger mined regions are drawn more often) where the mask has any;
/// the rest fall anywhere. crop = 0: whole images.
struct CropOptions {
  int crop = 0;
  double foreground = 0.5;
  double hard_negative = 0;
};

/// Fills one batch from cached samples, with or without augmentation (and crops).
/// The target is 1 on kWindow pixels, 0 elsewhere (hard negatives are background).
/// Used by the loader thread and (without augmentation) by validation.
Batch make_batch(const std::vector<const CachedSample*>& items, int size, const image::AugmentOptions* augment,
                 std::uint64_t seed, CropOptions crop = {});

/// Marks hard negatives in `mask` (a size x size MaskValue mask): the 8-connected
/// regions of `predicted` (CV_8UC1, non-zero = predicted window, the mask's size) of at
/// least (size/64)^2 px (64 at 512) that lie wholly outside the mask's kWindow pixels
/// widened by size/32 px (16 at 512: a window's hand-drawn edge is not a distractor)
/// become kHardNegative; kWindow pixels are never changed. Returns how many regions.
int mark_hard_negatives(const cv::Mat& predicted, cv::Mat& mask);

class BatchLoader {
 public:
  /// items must outlive the loader. prefetch = batches prepared ahead.
  BatchLoader(std::vector<const CachedSample*> items, int size, int batch_size, image::AugmentOptions augment,
              std::uint64_t seed, CropOptions crop = {}, int prefetch = 2);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  /// The samples of the next epochs (the same count and order: the same photos, e.g.
  /// with mined hard negatives in their masks); stops the current epoch's worker.
  /// Call between epochs, from the consumer thread. They must outlive the loader.
  void set_items(std::vector<const CachedSample*> items);
  /// Starts producing the batches of `epoch` (shuffled); returns how many there are.
  int start_epoch(int epoch);
  /// The next batch of the current epoch (blocks); nullopt at its end. Rethrows a
  /// worker exception.
  std::optional<Batch> next();

 private:
  void run(int epoch);
  void stop();

  std::vector<const CachedSample*> items_;  // written only while no worker runs
  const int size_, batch_size_, prefetch_;
  const image::AugmentOptions augment_;
  const std::uint64_t seed_;
  const CropOptions crop_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;   // guarded by mu_
  int remaining_ = 0;         // batches of this epoch not yet taken; guarded by mu_
  bool stopping_ = false;     // guarded by mu_
  std::exception_ptr error_;  // guarded by mu_
};

}  // namespace wms::train
