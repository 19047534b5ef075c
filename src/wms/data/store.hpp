// The content-addressed object store, laid out as DVC 3.x's cache:
//   <root>/files/md5/<first 2 hex>/<other 30 hex>        file objects
//   <root>/files/md5/<2>/<30>.dir                        directory listings
// so `dvc` pointed at the same folder (cache.dir) sees the same objects.
//
// Append-only: an object, once written, is never changed or removed by wms. Each put
// is atomic and durable (atomic_write) and verifies the md5 of what it stored.
// Objects are read-only (0444). Safe to use from several threads and processes.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "wms/data/dvc.hpp"

namespace wms::data {

namespace fs = std::filesystem;

class Store {
 public:
  explicit Store(fs::path root) : root_(std::move(root)) {}

  const fs::path& root() const { return root_; }
  /// Path of an object ("<md5>" or "<md5>.dir"); it may not exist.
  fs::path object_path(std::string_view md5) const;
  bool has(std::string_view md5) const;

  /// Copies a file into the store. If its md5 differs from expected_md5 (the file
  /// changed since it was validated) nothing is stored and Conflict is thrown.
  void put_file(const fs::path& src, const std::string& expected_md5) const;
  /// Stores bytes; returns their md5.
  std::string put_bytes(std::string_view bytes) const;

  /// Stores an object that came from elsewhere under its name ("<md5>" or
  /// "<md5>.dir"). Throws Corrupt (and stores nothing) when the bytes' md5 is not the
  /// name's; a ".dir" object must also parse as a DVC listing.
  void put_object(std::string_view name, std::string_view bytes) const;
  /// Stores a listing as a ".dir" object; returns "<md5>.dir".
  std::string put_listing(const Listing& listing) const;
  /// Reads a ".dir" object (sizes filled from the objects). Throws NotFound/Corrupt.
  Listing read_listing(std::string_view dir_md5) const;

  /// Reads an object's bytes. Throws NotFound if absent, Corrupt if its md5 is wrong.
  std::string read(std::string_view md5) const;

 private:
  fs::path root_;
};

}  // namespace wms::data
