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
      {"name.case_clash", Severity::kWarning,
       "photo names that differ only in letter case (one file on macOS/Windows)"},
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

const util::OptionTable<ValidationOptions>& validation_option_table() {
  using util::Range;
  static const auto t =
      util::OptionTable<ValidationOptions>()
          .add("validation.max_pixels", "max_pixels", WMS_MEMBER(limits.max_pixels),
               "refuse larger images before decoding (decompression bombs)", Range::at_least(1))
          .add("validation.max_file_bytes", "max_file_bytes", WMS_MEMBER(max_file_bytes), "largest file",
               Range::at_least(1))
          .add("validation.min_side", "min_side", WMS_MEMBER(min_side), "smallest image side, in pixels",
               Range::at_least(1))
          .add("validation.mask_threshold", "mask_threshold", WMS_MEMBER(mask_threshold),
               "mask foreground = value >= this", Range::closed(1, 255))
          .add("validation.grey_low", "grey_low", WMS_MEMBER(grey_low), "the mid-grey band of a mask from ...",
               Range::closed(0, 255))
          .add("validation.grey_high", "grey_high", WMS_MEMBER(grey_high), "... to", Range::closed(0, 255))
          .add("validation.max_grey_share", "max_grey_share", WMS_MEMBER(max_grey_share),
               "share of a mask's pixels the band may cover", Range::closed(0, 1))
          .add("validation.min_foreground_pixels", "min_foreground_pixels", WMS_MEMBER(min_foreground_pixels),
               "fewer foreground pixels: an empty mask", Range::at_least(0))
          .add("validation.min_foreground_share", "min_foreground_share", WMS_MEMBER(min_foreground_share),
               "smallest window, as a share of the photo", Range::closed(0, 1))
          .add("validation.max_foreground_share", "max_foreground_share", WMS_MEMBER(max_foreground_share),
               "largest window, as a share of the photo", Range::closed(0, 1))
          .add("validation.max_regions", "max_regions", WMS_MEMBER(max_regions),
               "separate foreground regions in a mask", Range::at_least(1))
          .add("validation.name_pattern", "name_pattern", WMS_MEMBER(name_pattern),
               "file stems must match (ECMAScript); \"\": no name rule");
  return t;
}

ValidationOptions validation_options(const util::Config& c) {
  ValidationOptions o;
  for (auto& row : validation_option_table().rows()) row.read(o, c);
  for (const auto& [rule, level] : c.get_string_map("validation.severity")) {
    bool known = false;
    for (const auto& r : rules()) known |= r.id == rule;
    if (!known)
      throw InvalidInput("{}: validation.severity.{}: no such rule (see wms validate --rules)", c.source(), rule);
    if (level == "error")
      o.severity[rule] = Severity::kError;
    else if (level == "warning")
      o.severity[rule] = Severity::kWarning;
    else if (level == "off")
      o.severity[rule] = Severity::kOff;
    else
      throw InvalidInput("{}: validation.severity.{}: '{}' is not error, warning or off", c.source(), rule, level);
  }
  validation_option_table().validate(o, c.source());
  if (o.grey_low > o.grey_high)
    throw InvalidInput("{}: validation.grey_low: must be <= validation.grey_high (found {} > {})", c.source(),
                       o.grey_low, o.grey_high);
  if (o.min_foreground_share > o.max_foreground_share)
    throw InvalidInput(
        "{}: validation.min_foreground_share: must be <= validation.max_foreground_share (found {} > {})", c.source(),
        o.min_foreground_share, o.max_foreground_share);
  return o;
}

}  // namespace wms::data
