#include "wms/data/validate.hpp"

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "wms/image/decode.hpp"
#include "wms/util/error.hpp"
#include "wms/util/fs.hpp"
#include "wms/util/hash.hpp"
#include "wms/util/parallel.hpp"
#include "wms/util/progress.hpp"

namespace wms::data {
namespace {

enum class Role { kImage, kMask };

struct FileRef {
  std::string name;
  std::string stem;
  std::string ext;  // lower case, without the dot
  fs::path path;
  std::string shown;  // path as the report shows it
  Role role;
};

// What analyse() learned about one file.
struct FileCheck {
  bool usable = false;  // decoded and passed the file-level error rules
  std::string md5;
  std::uint64_t size = 0;
  image::Header header;
  int width = 0, height = 0;  // displayed (after orientation)
  double grey_share = 0, fg_share = 0;
  std::int64_t fg_pixels = 0;
  int regions = 0;
  int max_value = 0;        // brightest mask value
  int distinct_values = 0;  // how many grey levels the mask uses
  std::vector<Issue> issues;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// What is wrong with a relative path as a name, naming the byte and where it is.
std::optional<std::string> name_problem(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    if (c < 0x20 || c == 0x7F)
      return fmt::format("the name has a control character (byte 0x{:02X} at position {})", c, i + 1);
    int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    bool ok = extra >= 0 && i + extra < s.size();  // needs s[i..i+extra]
    for (int k = 1; ok && k <= extra; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
    if (!ok)
      return fmt::format("the name is not UTF-8 (byte 0x{:02X} at position {}; a Latin-1 or other legacy encoding?)", c,
                         i + 1);
    i += extra + 1;
  }
  return std::nullopt;
}

bool supported_ext(const std::string& ext) {
  return ext == "jpg" || ext == "jpeg" || ext == "png";
}

image::Format format_of_ext(const std::string& ext) {
  return ext == "png" ? image::Format::kPng : image::Format::kJpeg;
}

class Issues {
 public:
  explicit Issues(const ValidationOptions& o) : o_(o) {}
  void add(std::vector<Issue>& out, const std::string& rule, std::vector<std::string> files, std::string msg) const {
    Severity s = o_.severity_of(rule);
    if (s == Severity::kOff) return;
    out.push_back({rule, s, std::move(files), std::move(msg)});
  }

 private:
  const ValidationOptions& o_;
};

// Splits a '/'-separated relative path "day2/x.jpg" into its stem "day2/x" and its
// extension "jpg" (lower case); a dot in a folder name is not an extension.
void split_name(FileRef& f) {
  f.stem = pair_key(f.name);
  f.ext = f.stem.size() < f.name.size() ? lower(f.name.substr(f.stem.size() + 1)) : "";
}

// " (found at <dir>/<other>)" when the file has a partner at another folder level (a
// flat masks/ beside nested images/), so the message says what to move.
std::string elsewhere(const std::map<std::string, std::vector<std::size_t>>& stems, const std::string& stem,
                      const std::string& dir) {
  std::string base = stem.substr(stem.rfind('/') + 1);  // npos + 1 == 0
  for (const auto& [other, _] : stems) {
    if (other == stem || other.substr(other.rfind('/') + 1) != base) continue;
    return fmt::format(" (found {}/{}.* at another folder level: pairs match by relative path)", dir, other);
  }
  return "";
}

// Every file under dir, recursively, as relative paths (DVC's relpath); files that the
// documented rule ignores are counted, not listed. Anything that is not a regular file
// (a fifo, a socket, a broken link, a link to a folder) is reported, never opened.
std::vector<FileRef> scan(const fs::path& dir, Role role, const std::string& shown_dir, const Issues& rules,
                          std::vector<Issue>& out, std::vector<std::string>& ignored, std::size_t& odd) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    std::string hint;
    for (fs::directory_iterator it(dir.parent_path().empty() ? "." : dir.parent_path(), ec), end; !ec && it != end;
         it.increment(ec))
      if (it->path().filename() != dir.filename() &&
          lower(it->path().filename().string()) == lower(dir.filename().string()))
        hint = fmt::format("; found {}: folder names are case-sensitive", it->path().string());
    throw NotFound("{}: no such folder (a batch holds images/ and masks/ folders){}", dir.string(), hint);
  }
  std::vector<FileRef> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  fs::path last = dir;
  for (; !ec && it != end; it.increment(ec)) {
    last = it->path();
    std::string base = it->path().filename().string();
    if (ignored_by_rule(base)) {
      if (it->is_directory(ec)) {  // every file inside counts
        it.disable_recursion_pending();
        std::error_code walk;
        for (fs::recursive_directory_iterator in(it->path(), walk), stop; !walk && in != stop; in.increment(walk))
          if (!in->is_directory(walk)) ignored.push_back(in->path().lexically_relative(dir).generic_string());
      } else {
        ignored.push_back(it->path().lexically_relative(dir).generic_string());
      }
      continue;
    }
    std::string rel = it->path().lexically_relative(dir).generic_string();
    std::string shown = shown_dir + "/" + rel;
    if (it->is_symlink(ec) && it->is_directory(ec)) {
      ++odd;
      rules.add(out, "file.type", {shown}, "a link to a folder (wms does not follow folder links); copy the files in");
      continue;
    }
    if (it->is_directory(ec)) continue;
    if (!it->is_regular_file(ec)) {
      ++odd;
      rules.add(out, "file.type", {shown},
                it->is_symlink(ec) ? "a link to nothing (its target is missing)"
                                   : "not a regular file (a fifo, socket or device); wms reads regular files only");
      continue;
    }
    FileRef f;
    f.name = rel;
    f.path = it->path();
    f.shown = shown;
    f.role = role;
    split_name(f);
    files.push_back(std::move(f));
  }
  if (ec) throw IoError(last.string(), "list: " + ec.message());
  std::sort(files.begin(), files.end(), [](const FileRef& a, const FileRef& b) { return a.name < b.name; });
  return files;
}

FileCheck analyse(const FileRef& f, const ValidationOptions& o, const Issues& rules) {
  FileCheck c;
  std::error_code ec;
  c.size = fs::file_size(f.path, ec);
  if (ec) throw IoError(f.path.string(), "stat: " + ec.message());
  if (c.size > o.max_file_bytes) {
    rules.add(
        c.issues, "image.too_large", {f.shown},
        fmt::format("file is {} bytes, over the limit of {} (validation.max_file_bytes)", c.size, o.max_file_bytes));
    return c;
  }
  std::string bytes = util::read_file(f.path, o.max_file_bytes);
  c.md5 = util::md5_hex(bytes);
  try {
    image::Decoded d = f.role == Role::kImage ? image::decode_image(bytes, f.shown, o.limits)
                                              : image::decode_mask(bytes, f.shown, o.limits);
    c.header = d.header;
    c.width = d.pixels.cols;
    c.height = d.pixels.rows;
    if (d.header.format != format_of_ext(f.ext))
      rules.add(c.issues, "file.format_mismatch", {f.shown},
                fmt::format("content is {} but the extension is .{}; rename the file",
                            image::format_name(d.header.format), f.ext));
    if (f.role == Role::kImage) {
      if (d.header.channels != 3)
        rules.add(c.issues, "image.channels", {f.shown},
                  fmt::format("{} channel(s) ({}); wms uses the colour channels only", d.header.channels,
                              d.header.channels == 4   ? "colour + alpha"
                              : d.header.channels == 2 ? "gray + alpha"
                                                       : "gray"));
      if (std::min(c.width, c.height) < o.min_side)
        rules.add(
            c.issues, "image.too_small", {f.shown},
            fmt::format("{}x{} is below the minimum side of {} (validation.min_side)", c.width, c.height, o.min_side));
    } else {
      const cv::Mat& g = d.pixels;
      double total = static_cast<double>(g.total());
      cv::Mat grey;
      cv::inRange(g, cv::Scalar(o.grey_low), cv::Scalar(o.grey_high), grey);
      c.grey_share = cv::countNonZero(grey) / total;
      cv::Mat bin = image::binarize_mask(g, o.mask_threshold);
      c.fg_pixels = cv::countNonZero(bin);
      int hist[256] = {};
      for (int y = 0; y < g.rows; ++y)
        for (const std::uint8_t *p = g.ptr<std::uint8_t>(y), *e = p + g.cols; p != e; ++p) ++hist[*p];
      for (int k = 0; k < 256; ++k)
        if (hist[k]) c.max_value = k, ++c.distinct_values;
      c.fg_share = c.fg_pixels / total;
      if (c.fg_pixels > 0) {
        cv::Mat labels;
        c.regions = cv::connectedComponents(bin, labels, 8, CV_32S) - 1;
      }
    }
    c.usable =
        std::none_of(c.issues.begin(), c.issues.end(), [](const Issue& i) { return i.severity == Severity::kError; });
  } catch (const image::ImageError& e) {
    rules.add(c.issues, e.rule(), {f.shown}, e.detail());
  }
  return c;
}

// Mask content rules for a pair whose mask decoded.
void check_mask(const FileRef& m, const FileCheck& c, const ValidationOptions& o, const Issues& rules,
                std::vector<Issue>& out) {
  if (c.grey_share > o.max_grey_share)
    rules.add(out, "mask.not_binary", {m.shown},
              fmt::format("{:.1f}% of pixels are mid-grey ({}..{}), over {:.1f}% (validation.max_grey_share); "
                          "save the mask as black (0) and white (255)",
                          100 * c.grey_share, o.grey_low, o.grey_high, 100 * o.max_grey_share));
  if (c.fg_pixels < o.min_foreground_pixels) {
    std::string found, fix;
    if (c.max_value == 0) {
      found = "every pixel is 0 (black)";
      fix = "draw the reading window in white (255)";
    } else if (c.max_value < o.mask_threshold && c.header.channels >= 3) {
      found = fmt::format("a colour mask whose brightest grey level is {} (pure red becomes 76, green 150, blue 29)",
                          c.max_value);
      fix = "draw the reading window in white (255) on black";
    } else if (c.max_value < o.mask_threshold && c.distinct_values <= 16) {
      found = fmt::format("values are 0..{} ({} levels): a label-index mask (class ids), not black and white",
                          c.max_value, c.distinct_values);
      fix = fmt::format("save the window as 255 (foreground is >= {}), e.g. `convert {} -threshold 0 OUT.png`",
                        o.mask_threshold, m.name);
    } else {
      found = fmt::format("{} pixel(s) >= {}, the brightest value is {}", c.fg_pixels, o.mask_threshold, c.max_value);
      fix = "draw the reading window in white (255)";
    }
    rules.add(out, "mask.empty", {m.shown},
              fmt::format("{}; a mask needs at least {} foreground pixels (validation.min_foreground_pixels): {}",
                          found, o.min_foreground_pixels, fix));
    return;
  }
  if (c.fg_share < o.min_foreground_share || c.fg_share > o.max_foreground_share)
    rules.add(out, "mask.foreground_share", {m.shown},
              fmt::format("foreground is {:.2f}% of the image, outside {:.2f}%..{:.2f}% "
                          "(validation.min/max_foreground_share); a reading window is a small part of the photo{}",
                          100 * c.fg_share, 100 * o.min_foreground_share, 100 * o.max_foreground_share,
                          c.fg_share > 0.5 ? " (inverted? the window must be white on black)" : ""));
  if (c.regions > o.max_regions)
    rules.add(out, "mask.regions", {m.shown},
              fmt::format("{} separate regions, more than {} (validation.max_regions); a meter has one reading window",
                          c.regions, o.max_regions));
}

// True when two masks mark the same pixels (IoU >= 0.99 after binarisation), so a
// re-encoded copy of one mask is not mistaken for a different one.
bool same_mask(const std::string& a, const std::string& b, const ValidationOptions& o) {
  if (util::md5_hex(a) == util::md5_hex(b)) return true;
  try {
    cv::Mat ma = image::binarize_mask(image::decode_mask(a, "a", o.limits).pixels, o.mask_threshold);
    cv::Mat mb = image::binarize_mask(image::decode_mask(b, "b", o.limits).pixels, o.mask_threshold);
    if (ma.size() != mb.size()) return false;
    cv::Mat inter, uni;
    cv::bitwise_and(ma, mb, inter);
    cv::bitwise_or(ma, mb, uni);
    int u = cv::countNonZero(uni);
    return u == 0 || cv::countNonZero(inter) >= 0.99 * u;
  } catch (const image::ImageError&) {
    return false;
  }
}

}  // namespace

std::string pair_key(std::string_view relpath) {
  auto slash = relpath.rfind('/');
  auto dot = relpath.rfind('.');
  bool has_ext = dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash + 1);
  return std::string(has_ext ? relpath.substr(0, dot) : relpath);
}

bool ignored_by_rule(std::string_view name) {
  if (name.empty() || name[0] == '.') return true;  // dot-files and dot-folders: .DS_Store, .git, ._x (AppleDouble)
  std::string n = lower(std::string(name));
  return n == "thumbs.db" || n == "ehthumbs.db" || n == "desktop.ini" || n == "__macosx" || n == "icon\r";
}

BatchSource BatchSource::from_dir(const fs::path& dir) {
  return {dir / "images", dir / "masks", dir.string()};
}

namespace {

// One batch's validation, phase by phase; each phase reads what the ones before found.
struct BatchCheck {
  const BatchSource& batch;
  const ExistingDataset& existing;
  const ValidationOptions& o;
  Issues rules;
  Validation v;
  Report& r = v.report;
  std::vector<Issue>& out = r.issues;
  std::size_t image_files = 0, mask_files = 0;
  std::vector<FileRef> candidates;                                          // files with a usable name and extension
  std::map<std::string, std::vector<std::size_t>> image_stems, mask_stems;  // pairing key -> candidates
  std::vector<FileCheck> checks;                                            // per candidate
  // The dataset, indexed for the cross-checks.
  std::map<std::string, const Entry*> ds_image_by_name, ds_mask_by_stem, ds_image_by_md5;
  std::map<std::string, std::string> ds_stem_to_image;
  std::map<std::string, std::size_t> batch_image_by_md5;  // md5 -> index in v.pairs

  BatchCheck(const BatchSource& b, const ExistingDataset& e, const ValidationOptions& opts)
      : batch(b), existing(e), o(opts), rules(opts) {
    r.source = batch.label.empty() ? batch.images_dir.parent_path().string() : batch.label;
  }

  // Every file under images/ and masks/: a candidate, ignored by name, or reported.
  void scan_files() {
    std::vector<std::string> ignored_images, ignored_masks;
    std::size_t odd = 0;  // reported as file.type
    std::vector<FileRef> files =
        scan(batch.images_dir, Role::kImage, batch.images_dir.string(), rules, out, ignored_images, odd);
    std::vector<FileRef> masks =
        scan(batch.masks_dir, Role::kMask, batch.masks_dir.string(), rules, out, ignored_masks, odd);
    image_files = files.size();
    mask_files = masks.size();
    files.insert(files.end(), masks.begin(), masks.end());
    std::sort(ignored_images.begin(), ignored_images.end());
    std::sort(ignored_masks.begin(), ignored_masks.end());
    for (const auto& i : ignored_images) r.ignored.push_back("images/" + i);
    for (const auto& m : ignored_masks) r.ignored.push_back("masks/" + m);
    r.files_ignored = r.ignored.size();
    // File names and extensions; files that fail here take no further part.
    for (auto& f : files) {
      if (auto bad = name_problem(f.name)) {
        rules.add(out, "file.name", {f.shown}, *bad + "; rename it");
      } else if (!supported_ext(f.ext)) {
        rules.add(out, "file.extension", {f.shown},
                  f.ext.empty() ? std::string("the name has no extension; name photos and masks .jpg, .jpeg or .png")
                                : fmt::format("extension '.{}' is not supported; use .jpg, .jpeg or .png", f.ext));
        if (std::error_code ec; fs::file_size(f.path, ec) == 0 && !ec)
          rules.add(out, "file.empty", {f.shown}, "empty file (0 bytes)");
      } else {
        candidates.push_back(f);
      }
    }
    r.files_checked = files.size() + odd;
  }

  // Group by (role, stem): two files with one stem cannot be paired; names that differ
  // only in case are one file on macOS and Windows checkouts.
  void group_stems() {
    for (std::size_t i = 0; i < candidates.size(); ++i)
      (candidates[i].role == Role::kImage ? image_stems : mask_stems)[candidates[i].stem].push_back(i);
    for (auto* stems : {&image_stems, &mask_stems}) {
      for (auto& [stem, idx] : *stems) {
        if (idx.size() < 2) continue;
        std::vector<std::string> shown;
        for (auto i : idx) shown.push_back(candidates[i].shown);
        rules.add(out, "pair.stem_clash", shown,
                  fmt::format("{} files share the stem '{}'; keep one", idx.size(), stem));
      }
    }
    std::map<std::string, std::vector<std::string>> by_lower;
    for (const auto& f : candidates)
      if (f.role == Role::kImage) by_lower[lower(f.stem)].push_back(f.shown);
    for (auto& [key, shown] : by_lower)
      if (shown.size() > 1)
        rules.add(
            out, "name.case_clash", shown,
            fmt::format("{} photos whose names differ only in letter case: one file on macOS and Windows; rename one",
                        shown.size()));
  }

  // Per-file checks on every core.
  void check_files() {
    checks.resize(candidates.size());
    util::Progress progress("validate", candidates.size());
    util::parallel_for(candidates.size(), o.threads, [&](std::size_t i) {
      checks[i] = analyse(candidates[i], o, rules);
      progress.tick();
    });
    for (auto& c : checks) out.insert(out.end(), c.issues.begin(), c.issues.end());
  }

  // The file's own stem against validation.name_pattern; folders are the user's to name.
  void check_name_pattern() {
    if (o.name_pattern.empty()) return;
    std::regex pattern;
    try {
      pattern = std::regex(o.name_pattern, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      throw InvalidInput("validation.name_pattern: '{}' is not a valid regular expression", o.name_pattern);
    }
    std::map<std::string, std::vector<std::string>> bad;
    for (const auto& f : candidates) {
      std::string own = f.stem.substr(f.stem.rfind('/') + 1);  // npos + 1 == 0
      if (!std::regex_match(own, pattern)) bad[own].push_back(f.shown);
    }
    for (auto& [stem, shown] : bad)
      rules.add(out, "name.pattern", shown,
                fmt::format("stem '{}' does not match {} (validation.name_pattern)", stem, o.name_pattern));
  }

  void index_dataset() {
    for (const auto& e : existing.images) {
      ds_image_by_name[e.relpath] = &e;
      ds_image_by_md5.emplace(e.md5, &e);
      ds_stem_to_image[pair_key(e.relpath)] = e.relpath;
    }
    for (const auto& e : existing.masks) ds_mask_by_stem[pair_key(e.relpath)] = &e;
  }

  // An image or a mask without its partner: said, with where the partner might be.
  void report_unpaired(const std::string& stem, const std::vector<std::size_t>* images,
                       const std::vector<std::size_t>* masks) {
    if (!masks) {
      const auto& f = candidates[(*images)[0]];
      rules.add(out, "pair.mask_missing", {f.shown},
                fmt::format("no mask named {}.jpg/.jpeg/.png in {}{}; add the mask or remove the image", stem,
                            batch.masks_dir.string(), elsewhere(mask_stems, stem, batch.masks_dir.string())));
      return;
    }
    const auto& f = candidates[(*masks)[0]];
    rules.add(out, "pair.image_missing", {f.shown},
              fmt::format("no image named {}.jpg/.jpeg/.png in {}{}; add the photo or remove the mask", stem,
                          batch.images_dir.string(), elsewhere(image_stems, stem, batch.images_dir.string())));
    if (checks[(*masks)[0]].usable) check_mask(f, checks[(*masks)[0]], o, rules, out);  // say all at once
  }

  // An image and its mask between themselves: extensions, sizes, the mask's content.
  // False when the pair cannot be used.
  bool check_pair(const FileRef& fi, const FileRef& fm, const FileCheck& ci, const FileCheck& cm) {
    if (fi.ext != fm.ext)
      rules.add(out, "pair.extension_differs", {fi.shown, fm.shown},
                fmt::format("image is .{} but mask is .{}", fi.ext, fm.ext));
    if (!ci.usable || !cm.usable) return false;  // file errors already reported
    if (ci.width != cm.width || ci.height != cm.height) {
      if (ci.header.orientation != 1 && cm.width == ci.header.width && cm.height == ci.header.height)
        rules.add(
            out, "pair.size_mismatch_exif", {fi.shown, fm.shown},
            fmt::format(
                "mask is {}x{}, the image's stored size, but EXIF orientation {} displays the image as {}x{}; "
                "the mask was made ignoring the orientation and does not line up: redraw it on the displayed photo",
                cm.width, cm.height, ci.header.orientation, ci.width, ci.height));
      else
        rules.add(out, "pair.size_mismatch", {fi.shown, fm.shown},
                  fmt::format("mask is {}x{} but the image is {}x{} (after EXIF orientation {}); they must be equal",
                              cm.width, cm.height, ci.width, ci.height, ci.header.orientation));
      return false;
    }
    check_mask(fm, cm, o, rules, out);
    return true;
  }

  // A pair against the dataset and the batch so far: same name must mean same content,
  // the same photo twice is kept once (or refused when its masks differ).
  void check_against_data(ValidPair& p, const FileRef& fi, const FileRef& fm, const FileCheck& ci,
                          const FileCheck& cm) {
    const std::string& stem = p.stem;
    if (auto it = ds_image_by_name.find(fi.name); it != ds_image_by_name.end()) {
      auto dm = ds_mask_by_stem.find(stem);
      if (it->second->md5 != ci.md5)
        rules.add(out, "dataset.name_conflict", {fi.shown},
                  fmt::format("the dataset already has images/{} with other content (md5 {}); wms never replaces "
                              "data in place: give the new photo its own name",
                              fi.name, it->second->md5.substr(0, 12)));
      else if (dm == ds_mask_by_stem.end() || dm->second->relpath != fm.name || dm->second->md5 != cm.md5)
        rules.add(out, "dataset.name_conflict", {fm.shown},
                  fmt::format("the dataset has this photo with another mask ({}); wms never replaces data in place",
                              dm == ds_mask_by_stem.end() ? "none" : "masks/" + dm->second->relpath));
      else
        p.status = PairStatus::kExisting;
    } else if (auto st = ds_stem_to_image.find(stem); st != ds_stem_to_image.end()) {
      rules.add(out, "pair.stem_clash", {fi.shown},
                fmt::format("the dataset already has images/{} with this stem; keep one", st->second));
    } else if (auto dup = ds_image_by_md5.find(ci.md5); dup != ds_image_by_md5.end()) {
      auto dm = ds_mask_by_stem.find(pair_key(dup->second->relpath));
      bool same = dm != ds_mask_by_stem.end() && existing.read_object &&
                  same_mask(util::read_file(fm.path), existing.read_object(dm->second->md5), o);
      if (same) {
        rules.add(out, "dup.image", {fi.shown},
                  fmt::format("same photo as images/{} in the dataset, same mask; kept once", dup->second->relpath));
        p.status = PairStatus::kDuplicate;
      } else {
        rules.add(out, "dup.mask_conflict", {fi.shown, fm.shown},
                  fmt::format("same photo as images/{} in the dataset but a different mask; keep the right one",
                              dup->second->relpath));
      }
    } else if (auto bd = batch_image_by_md5.find(ci.md5); bd != batch_image_by_md5.end()) {
      const ValidPair& first = v.pairs[bd->second];
      if (same_mask(util::read_file(fm.path), util::read_file(first.mask.path), o)) {
        rules.add(out, "dup.image", {fi.shown},
                  fmt::format("same photo as {}/{} in this batch, same mask; kept once", batch.images_dir.string(),
                              first.image.name));
        p.status = PairStatus::kDuplicate;
      } else {
        rules.add(out, "dup.mask_conflict", {fi.shown, fm.shown},
                  fmt::format("same photo as {}/{} in this batch but a different mask; keep the right one",
                              batch.images_dir.string(), first.image.name));
      }
    }
  }

  void pair_up() {
    std::set<std::string> stems;
    for (auto& [s, _] : image_stems) stems.insert(s);
    for (auto& [s, _] : mask_stems) stems.insert(s);
    for (const auto& stem : stems) {
      auto ii = image_stems.find(stem);
      auto mi = mask_stems.find(stem);
      if (ii != image_stems.end() && ii->second.size() > 1) continue;  // stem clash, reported
      if (mi != mask_stems.end() && mi->second.size() > 1) continue;
      if (ii == image_stems.end() || mi == mask_stems.end()) {
        report_unpaired(stem, ii == image_stems.end() ? nullptr : &ii->second,
                        mi == mask_stems.end() ? nullptr : &mi->second);
        continue;
      }
      ++r.pairs_found;
      const FileRef& fi = candidates[ii->second[0]];
      const FileRef& fm = candidates[mi->second[0]];
      const FileCheck& ci = checks[ii->second[0]];
      const FileCheck& cm = checks[mi->second[0]];
      std::size_t errors_before = r.errors();
      if (!check_pair(fi, fm, ci, cm)) continue;
      ValidPair p{stem, {fi.name, fi.path, ci.md5, ci.size}, {fm.name, fm.path, cm.md5, cm.size}, PairStatus::kNew};
      check_against_data(p, fi, fm, ci, cm);
      if (r.errors() != errors_before) continue;
      if (p.status == PairStatus::kNew) batch_image_by_md5.emplace(ci.md5, v.pairs.size());
      v.pairs.push_back(std::move(p));
    }
  }

  void summarise() {
    if (r.pairs_found == 0 && r.errors() == 0)  // else the errors already say why
      rules.add(out, "batch.empty", {batch.images_dir.string(), batch.masks_dir.string()},
                fmt::format("no image/mask pairs found: images/ holds {} file(s), masks/ {} ({} ignored by name); "
                            "images/<path>.jpg pairs with masks/<path>.png at the same relative path",
                            image_files, mask_files, r.ignored.size()));
    r.pairs_valid = v.pairs.size();
    for (const auto& p : v.pairs) {
      r.new_images += p.status == PairStatus::kNew;
      r.duplicate_images += p.status != PairStatus::kNew;
    }
    r.existing_images = existing.images.size();
    r.total_images = r.existing_images + r.new_images;
    std::stable_sort(out.begin(), out.end(), [](const Issue& a, const Issue& b) {
      return std::tie(a.files, a.rule) < std::tie(b.files, b.rule);
    });
  }
};

}  // namespace

Validation validate_batch(const BatchSource& batch, const ExistingDataset& existing, const ValidationOptions& o) {
  auto start = std::chrono::steady_clock::now();
  BatchCheck c(batch, existing, o);
  c.scan_files();
  c.group_stems();
  c.check_files();
  c.check_name_pattern();
  c.index_dataset();
  c.pair_up();
  c.summarise();
  c.r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::move(c.v);
}

}  // namespace wms::data
