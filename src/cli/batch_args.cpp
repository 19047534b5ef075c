#include "cli/batch_args.hpp"

#include "wms/util/error.hpp"

namespace wms::cli {

data::BatchSource BatchArgs::source() const {
  if (!dir.empty() && (images.empty() && masks.empty())) return data::BatchSource::from_dir(dir);
  if (dir.empty() && !images.empty() && !masks.empty()) return {images, masks, images + " + " + masks};
  throw InvalidInput("give a batch as DIR (with images/ and masks/) or as --images D --masks D, not both or neither");
}

}  // namespace wms::cli
