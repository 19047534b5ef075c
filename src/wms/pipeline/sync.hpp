// The workspace and its remote: which dataset versions and model bundles a push
// sends and a pull fetches (data/remote.hpp moves the objects; the registry knows the
// bundles). Used by `wms remote` and by the pipeline's merge-and-validate (pull) and
// promote (push) jobs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wms/data/remote.hpp"
#include "wms/registry/registry.hpp"

namespace wms::pipeline {

/// What a push sends: dataset versions and model bundles (store objects by md5).
struct SyncSet {
  std::vector<data::Version> versions;
  std::vector<std::string> bundles;
};

/// `version_ref` ("" = head) and the production model's bundle; with `all`, every
/// dataset version and every registered model's bundle. Throws NotFound when there is
/// nothing to push (no head and no version named).
SyncSet push_set(const data::Workspace& ws, registry::Registry& reg, const std::string& version_ref, bool all);

/// The remote configured as `name` ("" = the default), or nullopt when `name` is ""
/// and no default remote is set.
std::optional<data::Remote> default_remote(const data::Workspace& ws, const std::string& name = "");

/// Makes sure the head version's objects are in the local store, pulling what is
/// missing; with no local head, takes the version the .dvc pointer files name (a fresh
/// clone of the project) from the remote and makes it the head. Throws Unavailable,
/// NotFound or Corrupt naming what could not be had (nothing is half-applied: HEAD
/// moves only when every object is here). Returns what the pull moved.
data::TransferSummary ensure_head_present(const data::Workspace& ws, data::Remote& remote);

/// Pushes `set` and throws (naming the missing or corrupt objects) unless every
/// object is on the remote afterwards.
data::TransferSummary push_or_throw(data::Remote& remote, const SyncSet& set);

}  // namespace wms::pipeline
