#include "wms/train/samples.hpp"

#include "wms/util/error.hpp"

namespace wms::train {

std::vector<Sample> samples_from_version(const data::Workspace& ws, const data::Version& v) {
  data::Dataset ds(ws);
  data::Store store = ws.store();
  std::vector<Sample> out;
  for (const auto& s : ds.samples(v))
    out.push_back({s.stem, s.image.md5, store.object_path(s.image.md5), store.object_path(s.mask.md5), s.split});
  return out;
}

std::vector<Sample> samples_from_dir(const fs::path& dir, const data::SplitFractions& fractions,
                                     const data::ValidationOptions& validation) {
  auto v = data::validate_batch(data::BatchSource::from_dir(dir), {}, validation);
  if (!v.report.ok()) {
    for (const auto& i : v.report.issues)
      if (i.severity == data::Severity::kError)
        throw InvalidInput("{}: invalid data ({} errors; first: {}: {} (rule {})); run `wms validate {}`", dir.string(),
                           v.report.errors(), i.files.empty() ? "" : i.files[0], i.message, i.rule, dir.string());
  }
  std::vector<Sample> out;
  for (const auto& p : v.pairs)
    if (p.status != data::PairStatus::kDuplicate)
      out.push_back({p.stem, p.image.md5, p.image.path, p.mask.path, data::split_of(p.image.md5, fractions)});
  return out;
}

std::vector<Sample> only(const std::vector<Sample>& all, data::Split split) {
  std::vector<Sample> out;
  for (const auto& s : all)
    if (s.split == split) out.push_back(s);
  return out;
}

}  // namespace wms::train
