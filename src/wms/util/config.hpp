// Config: read-only typed access to wms.yaml by dotted key ("validation.min_side").
//
// A missing key gives the caller's default; a key with the wrong type throws
// InvalidInput naming the file, the key and the expected type. Each layer builds its
// own option struct from a Config (e.g. data::validation_options(config)), so the
// defaults live beside the code that uses them. Copies share the parsed document;
// safe to read from several threads.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wms::util {

class Config {
 public:
  Config();  ///< empty: every key takes its default
  /// Parses a YAML file; throws InvalidInput naming the file and line on syntax errors.
  static Config load(const std::filesystem::path& path);
  static Config parse(const std::string& yaml_text, const std::string& source_name);

  bool has(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  std::int64_t get_int(const std::string& key, std::int64_t fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  /// A list of numbers ([1.0, 1.5]); a single number is a list of one.
  std::vector<double> get_double_list(const std::string& key, const std::vector<double>& fallback) const;
  /// A list of strings ([a, b]); a single string is a list of one.
  std::vector<std::string> get_string_list(const std::string& key, const std::vector<std::string>& fallback) const;
  /// A mapping of scalars, e.g. validation.severity: {mask.regions: error}.
  std::map<std::string, std::string> get_string_map(const std::string& key) const;

  /// The keys of a mapping, in file order ({} when absent). Throws InvalidInput when
  /// the key holds something else.
  std::vector<std::string> children(const std::string& key) const;
  /// The mapping under `key` as a Config of its own (empty when absent), named
  /// "SOURCE (KEY)" in messages: for sections with a variable name, like remote.NAME.
  Config sub(const std::string& key) const;

  const std::string& source() const { return source_; }

 private:
  struct Doc;
  std::shared_ptr<const Doc> doc_;
  std::string source_ = "(defaults)";
};

/// Rewrites one top-level section of a YAML file (`key:` and the indented lines under
/// it) as `value` in block style (mappings of mappings and scalars; strings quoted as
/// JSON strings, which YAML reads alike), or removes it when value is null; appends it
/// when absent. Every other line, comments included, stays as it was. The result is
/// parsed before it replaces the file (atomically). Throws InvalidInput when the file
/// is not valid YAML, IoError when it cannot be written. Not for concurrent writers:
/// the caller holds the workspace lock.
void write_yaml_section(const std::filesystem::path& file, const std::string& key, const nlohmann::ordered_json& value);

}  // namespace wms::util
