#include "cli/inputs.hpp"

#include <filesystem>

#include "wms/data/dataset.hpp"
#include "wms/registry/promotion.hpp"
#include "wms/util/error.hpp"

namespace wms::cli {

std::optional<data::Workspace> maybe_workspace(const Globals& g) {
  try {
    return data::Workspace::open(g.workspace);
  } catch (const NotFound&) {
    return std::nullopt;
  }
}

DataSelection select_data(const Globals& g, const std::string& ref) {
  std::error_code ec;
  auto ws = maybe_workspace(g);
  util::Config config = ws ? ws->config() : util::Config();
  if (!ref.empty() && std::filesystem::is_directory(ref, ec)) {
    auto validation = data::validation_options(config);
    validation.threads = g.threads;
    return {train::samples_from_dir(ref, data::split_fractions(config), validation), "", ref};
  }
  if (!ws)
    throw NotFound("--data {}: not a folder, and {} is not a workspace to take a dataset version from",
                   ref.empty() ? "(head)" : ref, g.workspace);
  data::Dataset ds(*ws);
  auto v = ds.get(ref.empty() ? "head" : ref);
  return {train::samples_from_version(*ws, v), v.id, "dataset version " + v.short_id()};
}

nn::Model load_model(const Globals& g, const std::string& ref) {
  if (ref.empty()) throw InvalidInput("--model is required (a bundle file, a version number or an alias)");
  std::error_code ec;
  if (std::filesystem::is_regular_file(ref, ec)) return nn::Model::load(ref);
  if (auto ws = maybe_workspace(g)) {
    auto reg = registry::open(*ws);
    if (auto v = registry::resolve_version(reg, ref)) return registry::load_version(*ws, reg, *v);
    if (ref == registry::kProduction) throw NotFound("there is no production model yet (see `wms models list`)");
  }
  throw NotFound("--model {}: no such bundle file, model version or alias", ref);
}

}  // namespace wms::cli
