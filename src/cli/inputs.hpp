// Resolving what commands are given: --data V|DIR into samples, --model into a Model.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "wms/data/workspace.hpp"
#include "wms/nn/model.hpp"
#include "wms/train/samples.hpp"

namespace wms::cli {

struct DataSelection {
  std::vector<train::Sample> samples;
  std::string dataset_version;  ///< id, or "" for a plain folder
  std::string label;            ///< for messages
};

/// --data: a folder (images/ + masks/, validated and split by hash), or a dataset
/// version of the workspace (id prefix or "head"; the default).
DataSelection select_data(const Globals& g, const std::string& data_ref);

/// The workspace at --workspace, if there is one.
std::optional<data::Workspace> maybe_workspace(const Globals& g);

/// --model: a bundle file, a registered version ("3", "v3") or an alias ("production").
nn::Model load_model(const Globals& g, const std::string& model_ref);

}  // namespace wms::cli
