#include "wms/pipeline/sync.hpp"

#include <fmt/format.h>

#include "wms/registry/promotion.hpp"
#include "wms/util/error.hpp"

namespace wms::pipeline {

SyncSet push_set(const data::Workspace& ws, registry::Registry& reg, const std::string& version_ref, bool all) {
  data::Dataset ds(ws);
  SyncSet set;
  if (all) {
    set.versions = ds.log();
    for (const auto& m : reg.list_models()) set.bundles.push_back(m.bundle_md5);
    return set;
  }
  if (version_ref.empty() && !ds.head()) throw NotFound("no dataset version to push: add a batch first");
  set.versions.push_back(ds.get(version_ref.empty() ? "head" : version_ref));
  if (auto production = reg.alias(registry::kProduction))
    for (const auto& m : reg.list_models())
      if (m.version == *production) set.bundles.push_back(m.bundle_md5);
  return set;
}

std::optional<data::Remote> default_remote(const data::Workspace& ws, const std::string& name) {
  if (name.empty() && data::default_remote_name(ws.config()).empty()) return std::nullopt;
  return data::Remote(ws, data::remote_config(ws.config(), name));
}

namespace {

[[noreturn]] void fail(const data::Remote& remote, const std::string& verb, const data::TransferSummary& s) {
  std::string first = !s.corrupt.empty() ? s.corrupt.front() : s.missing.front();
  std::string what = fmt::format("{}: {} failed: {} missing, {} corrupt (first: {})", remote.config().label(), verb,
                                 s.missing.size(), s.corrupt.size(), first);
  if (!s.corrupt.empty()) throw Corrupt("{}", what);
  throw NotFound("{}", what);
}

}  // namespace

data::TransferSummary ensure_head_present(const data::Workspace& ws, data::Remote& remote) {
  data::Dataset ds(ws);
  if (auto head = ds.head()) {
    auto s = remote.pull({head->id});
    if (!s.ok()) fail(remote, "pull of the head version " + head->short_id(), s);
    return s;
  }
  std::error_code ec;
  if (!std::filesystem::exists(ws.images_dir().string() + ".dvc", ec)) return {};  // a new project: nothing to pull
  data::TransferSummary s;
  auto v = remote.pull_pointers("pull " + remote.config().name + ": the version the .dvc files name", s);
  if (!v) fail(remote, "pull of the version the .dvc files name", s);
  ds.accept(*v, "pull from " + remote.config().label());
  return s;
}

data::TransferSummary push_or_throw(data::Remote& remote, const SyncSet& set) {
  auto s = remote.push(set.versions, set.bundles);
  if (!s.ok()) fail(remote, "push", s);
  return s;
}

}  // namespace wms::pipeline
