// Ingesting a batch: validate against the accepted dataset, store the new files,
// build the candidate version, and (for `wms data add`) accept it.
//
// Order of writes, each durable before the next: objects -> listings + version record
// -> HEAD -> working copy and .dvc files. Validation happens before the first write;
// an invalid batch changes nothing. A crash before HEAD moves leaves the previous
// version current (new objects are harmless: the store is append-only); a crash after
// it is repaired by `wms data checkout`.
#pragma once

#include <optional>
#include <string>

#include "wms/data/dataset.hpp"
#include "wms/data/validate.hpp"
#include "wms/data/workspace.hpp"

namespace wms::data {

/// The current dataset as validate_batch() wants it (empty if there is no HEAD).
ExistingDataset existing_dataset(const Workspace& ws);

struct AddResult {
  Validation validation;
  std::optional<Version> version;  ///< the candidate; absent when invalid or nothing new
  bool accepted = false;           ///< HEAD moved to version
};

/// REQUIRES: the caller holds ws.lock(). accept=false stages a candidate version
/// without moving HEAD (the pipeline accepts it only if the model improves).
AddResult add_batch(const Workspace& ws, const BatchSource& batch, const ValidationOptions& options,
                    const std::string& message, bool accept = true);

}  // namespace wms::data
