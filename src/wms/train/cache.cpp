#include "wms/train/cache.hpp"

#include "wms/image/decode.hpp"
#include "wms/image/preprocess.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/parallel.hpp"
#include "wms/util/progress.hpp"

namespace wms::train {

void SampleCache::add(const std::vector<Sample>& samples, int size, unsigned threads) {
  std::vector<const Sample*> todo;
  for (const auto& s : samples)
    if (!items_.count({s.image_md5, size})) todo.push_back(&s);
  std::vector<CachedSample> made(todo.size());
  util::Progress progress("prepare", todo.size());
  util::parallel_for(todo.size(), threads, [&](std::size_t i) {
    const Sample& s = *todo[i];
    auto photo = image::decode_image(util::read_file(s.image), s.image.string());
    auto mask = image::decode_mask(util::read_file(s.mask), s.mask.string());
    made[i].photo = image::resize_photo(photo.pixels, size);
    made[i].mask = image::resize_mask(mask.pixels, size);
    progress.tick();
  });
  for (std::size_t i = 0; i < todo.size(); ++i) items_[{todo[i]->image_md5, size}] = std::move(made[i]);
}

const CachedSample& SampleCache::get(const Sample& s, int size) const {
  auto it = items_.find({s.image_md5, size});
  if (it == items_.end()) throw Internal("sample cache: {} not prepared at {}", s.stem, size);
  return it->second;
}

}  // namespace wms::train
