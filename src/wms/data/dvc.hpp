// DVC 3.x formats, byte for byte: directory listings (".dir" objects) and ".dvc"
// pointer files. See https://dvc.org/doc/user-guide/project-structure/dvc-files.
//
//  .dir object:  json.dumps(entries, sort_keys=True) with Python's default separators
//                (", " and ": ") and ensure_ascii, entries {"md5", "relpath"} sorted by
//                relpath (compared as path parts); its md5 plus ".dir" names the listing.
//  .dvc file:    outs:\n- md5: <md5>.dir\n  size: <bytes>\n  nfiles: <n>\n  hash: md5\n  path: <name>\n
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wms::data {

/// One file of a tracked directory.
struct Entry {
  std::string relpath;  ///< '/'-separated, relative to the directory
  std::string md5;      ///< of the raw bytes
  std::uint64_t size = 0;
};

/// A directory's content. Kept sorted by relpath (see sort_listing).
using Listing = std::vector<Entry>;

/// Sorts as DVC does (by the tuple of path parts).
void sort_listing(Listing& listing);

/// The bytes of the ".dir" object for a listing (sorted first). Sizes are not part of it.
std::string dir_json(Listing listing);

/// Parses a ".dir" object. Throws Corrupt naming `source` if it is not a DVC listing.
Listing parse_dir_json(std::string_view text, const std::string& source);

/// Python's json.dumps string quoting (ensure_ascii=True).
std::string python_json_quote(std::string_view utf8);

/// What a ".dvc" file points at.
struct DvcOut {
  std::string md5;  ///< with the ".dir" suffix for directories
  std::uint64_t size = 0;
  std::uint64_t nfiles = 0;
  std::string path;  ///< relative to the .dvc file's folder
  /// "md5" (DVC 3.x: raw bytes); "" in a DVC 2.x file, whose objects live in the
  /// remote's legacy layout and whose text files were hashed after CRLF -> LF.
  std::string hash = "md5";
};

std::string dvc_file_text(const DvcOut& out);
/// Parses a ".dvc" file (first out only). Throws Corrupt naming `source`.
DvcOut parse_dvc_file(std::string_view text, const std::string& source);

}  // namespace wms::data
