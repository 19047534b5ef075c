// Dataset versions of a workspace: immutable, content-named, with parents.
//
// A version is a pair of DVC directory listings (images, masks). Its id is the md5 of
// "<images .dir md5>\n<masks .dir md5>\n", so equal content means equal id; commands
// accept any unique prefix of an id (like git). The accepted version is HEAD; it
// moves only by renaming .wms/HEAD after everything it names is durable, and each
// move is appended to .wms/logs/HEAD.jsonl.
//
// Not thread-safe for writers: callers hold Workspace::lock() while changing state.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "wms/data/dvc.hpp"
#include "wms/data/split.hpp"
#include "wms/data/validate.hpp"
#include "wms/data/workspace.hpp"

namespace wms::data {

struct Version {
  std::string id;       ///< 32 hex digits
  std::string images;   ///< "<md5>.dir"
  std::string masks;    ///< "<md5>.dir"
  std::string parent;   ///< id, or "" for the first version
  std::string created;  ///< UTC, ISO 8601
  std::string message;
  std::size_t pairs = 0;
  std::uint64_t bytes = 0;

  std::string short_id() const { return id.substr(0, 10); }
  nlohmann::json to_json() const;
};

/// One image/mask pair of a version.
/// The id of the version of two listings ("<md5>.dir" each): md5 of "images\nmasks\n".
std::string version_id(const std::string& images, const std::string& masks);
/// A version record from its JSON (to_json()). Throws Corrupt naming source.
Version version_from_json(const nlohmann::json& j, const std::string& source);

struct Sample {
  std::string stem;
  Entry image;
  Entry mask;
  Split split = Split::kTrain;
};

/// What differs between the working copy and HEAD.
struct WorkingState {
  std::vector<std::string> missing;    ///< in HEAD, not on disk
  std::vector<std::string> modified;   ///< on disk with other content
  std::vector<std::string> untracked;  ///< on disk, not in HEAD
  bool pointers_current = true;        ///< the .dvc files point at HEAD
  bool clean() const { return missing.empty() && modified.empty() && untracked.empty() && pointers_current; }
};

struct Diff {
  std::vector<std::string> added, removed, changed;  ///< "images/x.jpg", "masks/x.jpg"
};

class Dataset {
 public:
  explicit Dataset(const Workspace& ws) : ws_(ws), store_(ws.store()) {}

  std::optional<Version> head() const;
  /// By id or unique id prefix; "head"/"HEAD" is the head. Throws NotFound, InvalidInput (ambiguous).
  Version get(const std::string& ref) const;
  /// HEAD, its parent, ... (newest first).
  std::vector<Version> log() const;
  /// Pairs of a version with their splits (split fractions from the workspace config).
  std::vector<Sample> samples(const Version& v) const;
  Listing images(const Version& v) const { return store_.read_listing(v.images); }
  Listing masks(const Version& v) const { return store_.read_listing(v.masks); }
  Diff diff(const Version& a, const Version& b) const;

  /// Builds the version "base + new pairs" from pairs whose files are already in the
  /// store, writes its listings and record, and returns it. HEAD does not move.
  Version stage(const std::optional<Version>& base, const std::vector<ValidPair>& pairs,
                const std::string& message) const;
  /// Moves HEAD to v (atomic) and records why.
  void set_head(const Version& v, const std::string& action) const;
  /// Accepts v: moves HEAD to it (unless it is the head already), then checks it out.
  /// The one way `data add`, `data checkout` and the pipeline's promote accept data.
  /// A crash between the two leaves the new head and a working copy that
  /// `wms data checkout` repairs (failpoint "dataset.after_accept_head").
  void accept(const Version& v, const std::string& action) const;
  /// Makes the working copy and the .dvc pointer files match v. A file not in v is
  /// removed only if some version holds it under that name with that content (a copy
  /// a checkout made, unchanged: the store restores it); the user's own files stay.
  void checkout(const Version& v) const;
  /// Compares the working copy with HEAD (hashes every file).
  WorkingState working_state() const;
  /// The .dvc pointer files of a version: path relative to the workspace root -> text.
  std::map<std::string, std::string> pointer_files(const Version& v) const;

  /// Records the version of two listings already in the store (HEAD does not move);
  /// the same listings give the same, existing version.
  Version record(const std::string& images_dir, const std::string& masks_dir, const std::optional<Version>& parent,
                 const std::string& message) const;
  /// Stores a version record that came from elsewhere (a remote): its id must be the
  /// md5 of its listings and both listings must be in the store. Throws Corrupt naming
  /// `source` otherwise. An existing record is kept as it is.
  void import_record(const Version& v, const std::string& source) const;
  /// Whether a record for this id exists locally.
  bool has(const std::string& id) const;

 private:
  const Workspace& ws_;
  Store store_;
};

}  // namespace wms::data
