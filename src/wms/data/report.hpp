// Validation reports: what is wrong with a batch, as data (not exceptions).
//
// Every issue carries a rule id from rules.hpp, a severity, the file(s) it is about
// and a message a person can act on. Errors make the batch invalid; warnings do not.
// Rendered as a readable table or as JSON (schema: see to_json()).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace wms::data {

/// Written to JSON by name; never rename.
enum class Severity { kError, kWarning, kOff };
std::string severity_name(Severity s);

struct Issue {
  std::string rule;  ///< e.g. "pair.size_mismatch"
  Severity severity = Severity::kError;
  std::vector<std::string> files;  ///< paths as given (e.g. "images/a.jpg")
  std::string message;             ///< what is wrong and what to do
};

struct Report {
  std::string source;         ///< the batch folder
  std::vector<Issue> issues;  ///< sorted by file, then rule
  std::size_t files_checked = 0;
  std::size_t files_ignored = 0;     ///< skipped by name (dot-files, OS junk); see ignored_by_rule
  std::vector<std::string> ignored;  ///< their paths ("images/.day5/a.jpg"), sorted by side then path
  std::size_t pairs_found = 0;
  std::size_t pairs_valid = 0;       ///< pairs without errors
  std::size_t new_images = 0;        ///< valid pairs not yet in the dataset
  std::size_t duplicate_images = 0;  ///< valid pairs kept once: already in the dataset, or a copy of another photo
  std::size_t existing_images = 0;   ///< pairs in the dataset before the batch (the original's meaning)
  std::size_t total_images = 0;      ///< dataset size if the batch were accepted: existing + new
  double seconds = 0;

  std::size_t errors() const;
  std::size_t warnings() const;
  bool ok() const { return errors() == 0; }

  nlohmann::json to_json() const;
  /// A table for people: one line per issue, then a summary line.
  std::string to_text() const;
};

}  // namespace wms::data
