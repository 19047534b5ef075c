#include "wms/data/ingest.hpp"

#include "wms/util/failpoint.hpp"
#include "wms/util/progress.hpp"

namespace wms::data {

ExistingDataset existing_dataset(const Workspace& ws) {
  Dataset ds(ws);
  ExistingDataset e;
  if (auto h = ds.head()) {
    e.images = ds.images(*h);
    e.masks = ds.masks(*h);
  }
  Store store = ws.store();
  e.read_object = [store](const std::string& md5) { return store.read(md5); };
  return e;
}

AddResult add_batch(const Workspace& ws, const BatchSource& batch, const ValidationOptions& options,
                    const std::string& message, bool accept) {
  Dataset ds(ws);
  AddResult r;
  auto base = ds.head();
  r.validation = validate_batch(batch, existing_dataset(ws), options);
  if (!r.validation.report.ok() || r.validation.report.new_images == 0) return r;

  Store store = ws.store();
  {
    util::Progress progress("store", r.validation.report.new_images);
    for (const auto& p : r.validation.pairs) {
      if (p.status != PairStatus::kNew) continue;
      store.put_file(p.image.path, p.image.md5);
      store.put_file(p.mask.path, p.mask.md5);
      progress.tick();
    }
  }
  util::failpoint("data_add.after_objects");
  r.version = ds.stage(base, r.validation.pairs, message);
  util::failpoint("data_add.after_version");
  if (!accept) return r;
  ds.accept(*r.version, "data add " + batch.images_dir.parent_path().string());
  r.accepted = true;
  return r;
}

}  // namespace wms::data
