#include "wms/data/rules.hpp"

#include "wms/util/config.hpp"
#include "wms/util/error.hpp"

namespace wms::data {

const std::vector<Rule>& rules() {
  static const std::vector<Rule> table = {
      {"batch.empty", Severity::kError, "no image/mask pair in the batch"},
      {"file.type", Severity::kError, "not a regular file (fifo, socket, broken link, link to a folder)"},
      {"file.name", Severity::kError,
       "relative path has control characters or is not UTF-8 (dot-files and OS junk are skipped)"},
      {"file.extension", Severity::kError, "extension is not .jpg, .jpeg or .png"},
      {"file.empty", Severity::kError, "file has 0 bytes"},
      {"file.format", Severity::kError, "content is not JPEG or PNG"},
      {"file.format_mismatch", Severity::kWarning, "content format differs from the extension"},
      {"file.decodable", Severity::kError, "file is truncated or corrupt"},
      {"image.too_small", Severity::kError, "image side below validation.min_side"},
      {"image.too_large", Severity::kError, "file or pixel count over the limits"},
      {"image.channels", Severity::kWarning, "image is not 3-channel colour (alpha or gray)"},
      {"pair.mask_missing", Severity::kError, "image without a mask of the same stem"},
      {"pair.image_missing", Severity::kError, "mask without an image of the same stem"},
      {"pair.stem_clash", Severity::kError, "two files with one stem (a.jpg and a.png)"},
      {"pair.extension_differs", Severity::kWarning, "image and mask have different extensions"},
      {"pair.size_mismatch", Severity::kError, "mask size differs from the image size after EXIF orientation"},
      {"pair.size_mismatch_exif", Severity::kError,
       "mask matches the image only if its EXIF orientation is ignored (misaligned)"},
      {"mask.not_binary", Severity::kError, "too many mid-grey mask pixels"},
      {"mask.empty", Severity::kError, "mask has (almost) no foreground"},
      {"mask.foreground_share", Severity::kError, "foreground share out of the configured range"},
      {"mask.regions", Severity::kWarning, "mask has more separate regions than allowed"},
      {"name.case_clash", Severity::kWarning, "photo names that differ only in letter case (one file on macOS/Windows)"},
      {"name.pattern", Severity::kWarning, "file stem (without folders) does not match validation.name_pattern"},
      {"dup.image", Severity::kWarning, "same image bytes as another pair with the same mask (kept once)"},
      {"dup.mask_conflict", Severity::kError, "same image bytes as another pair but a different mask"},
      {"dataset.name_conflict", Severity::kError, "a file of this name is in the dataset with other content"},
  };
  return table;
}

Severity ValidationOptions::severity_of(const std::string& rule) const {
  if (auto it = severity.find(rule); it != severity.end()) return it->second;
  for (const auto& r : rules())
    if (r.id == rule) return r.severity;
  throw Internal("unknown validation rule {}", rule);
}

ValidationOptions validation_options(const util::Config& c) {
  ValidationOptions o;
  o.limits.max_pixels = c.get_int("validation.max_pixels", o.limits.max_pixels);
  o.max_file_bytes = static_cast<std::uint64_t>(c.get_int("validation.max_file_bytes", o.max_file_bytes));
  o.min_side = static_cast<int>(c.get_int("validation.min_side", o.min_side));
  o.mask_threshold = static_cast<int>(c.get_int("validation.mask_threshold", o.mask_threshold));
  o.grey_low = static_cast<int>(c.get_int("validation.grey_low", o.grey_low));
  o.grey_high = static_cast<int>(c.get_int("validation.grey_high", o.grey_high));
  o.max_grey_share = c.get_double("validation.max_grey_share", o.max_grey_share);
  o.min_foreground_pixels = c.get_int("validation.min_foreground_pixels", o.min_foreground_pixels);
  o.min_foreground_share = c.get_double("validation.min_foreground_share", o.min_foreground_share);
  o.max_foreground_share = c.get_double("validation.max_foreground_share", o.max_foreground_share);
  o.max_regions = static_cast<int>(c.get_int("validation.max_regions", o.max_regions));
  o.name_pattern = c.get_string("validation.name_pattern", o.name_pattern);
  for (const auto& [rule, level] : c.get_string_map("validation.severity")) {
    bool known = false;
    for (const auto& r : rules()) known |= r.id == rule;
    if (!known) throw InvalidInput("{}: validation.severity.{}: no such rule (see wms validate --rules)", c.source(), rule);
    if (level == "error") o.severity[rule] = Severity::kError;
    else if (level == "warning") o.severity[rule] = Severity::kWarning;
    else if (level == "off") o.severity[rule] = Severity::kOff;
    else throw InvalidInput("{}: validation.severity.{}: '{}' is not error, warning or off", c.source(), rule, level);
  }
  if (o.min_side < 1 || o.limits.max_pixels < 1 || o.mask_threshold < 1 || o.mask_threshold > 255 ||
      o.grey_low > o.grey_high || o.min_foreground_share > o.max_foreground_share)
    throw InvalidInput("{}: validation: inconsistent limits (check min/max pairs and mask_threshold 1..255)", c.source());
  return o;
}

}  // namespace wms::data
