// Moving the production alias: promote, rollback, and the files that mirror it.
//
// promote() refuses a version whose bundle is missing or does not load, then records
// one alias event for "production" (and one for "previous", the old production) and
// exports the original's git-tracked view: models/production_current.json (rewritten)
// and one line appended to models/production_history.jsonl, with the original's fields
// (version, run_id, stage, timestamp, created_at, metrics, params).
// REQUIRES: the caller holds the workspace lock.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wms/data/workspace.hpp"
#include "wms/nn/model.hpp"
#include "wms/registry/registry.hpp"

namespace wms::registry {

inline constexpr const char* kProduction = "production";
inline constexpr const char* kPrevious = "previous";

/// Where the workspace's registry is: $WMS_REGISTRY_URL, else wms.yaml's registry.url
/// (a postgresql:// URL), else the workspace's SQLite file (.wms/registry.db). Throws
/// InvalidInput for a URL that is not postgresql://.
std::string registry_location(const data::Workspace& ws);

/// Opens the workspace's registry at registry_location() (see Registry's constructor for
/// what it throws). Thread safety: one Registry per thread.
Registry open(const data::Workspace& ws);

/// Loads a registered version's bundle from the content store (throws NotFound/Corrupt).
nn::Model load_version(const data::Workspace& ws, Registry& reg, int version);

/// Stores a bundle in the content store and registers it; returns the version.
int register_bundle(const data::Workspace& ws, Registry& reg, const nn::Model& model, const std::string& run,
                    const std::string& note = "");

/// Moves production to `version`. Returns the alias event id. With a gate `decision`,
/// production must still be that decision's champion (else Conflict, nothing changed);
/// without one, production must not move between this call's read and its write.
std::int64_t promote(const data::Workspace& ws, Registry& reg, int version, const std::string& actor,
                     const std::string& reason, std::optional<std::int64_t> decision = std::nullopt);

/// Steps production back: to `to`, or to the version below the current one in
/// production_stack() (promote 1, 2, 3 then rollback, rollback: 3 -> 2 -> 1; versions
/// rolled away from are skipped). Recorded as a "rollback" alias event with actor and
/// reason. Returns the version now in production. Throws NotFound when there is nothing
/// to step back to, Conflict when `to` is already production.
int rollback(const data::Workspace& ws, Registry& reg, std::optional<int> to, const std::string& actor,
             const std::string& reason);

/// Production's history as a stack, replayed from its alias events: a promotion pushes
/// its version; a rollback pops back to its target (or pushes one outside the stack).
/// The last element is the current production version.
std::vector<int> production_stack(Registry& reg);

/// "3", "v3", an alias ("production"), or nullopt if `ref` names none of these.
std::optional<int> resolve_version(Registry& reg, const std::string& ref);

/// The user running wms ($USER, else "wms").
std::string current_actor();

}  // namespace wms::registry
