// Config: read-only typed access to wms.yaml by dotted key ("validation.min_side").
//
// A missing key gives the caller's default; a key with the wrong type throws
// InvalidInput naming the file, the key and the expected type. Each layer builds its
// own option struct from a Config (e.g. data::validation_options(config)), so the
// defaults live beside the code that uses them. Copies share the parsed document;
// safe to read from several threads.
#pragma once

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
  /// A mapping of scalars, e.g. validation.severity: {mask.regions: error}.
  std::map<std::string, std::string> get_string_map(const std::string& key) const;

  const std::string& source() const { return source_; }

 private:
  struct Doc;
  std::shared_ptr<const Doc> doc_;
  std::string source_ = "(defaults)";
};

}  // namespace wms::util
