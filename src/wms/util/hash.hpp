// Content hashes (OpenSSL): md5 names objects in the DVC-compatible store, sha256
// is for integrity records; base64 for bytes inside JSON. All functions are thread-safe.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace wms::util {

/// md5 of the bytes, as 32 lowercase hex digits.
std::string md5_hex(std::string_view bytes);
/// sha256 of the bytes, as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);
/// md5 of a file's raw bytes (DVC 3.x file hash). Throws IoError naming the file.
std::string md5_file(const std::filesystem::path& path);

/// Base64 (RFC 4648 section 4, with '=' padding, no line breaks) of the bytes.
std::string base64(std::string_view bytes);

/// True when s is 32 lowercase hex digits.
bool is_md5_hex(std::string_view s);

/// Incremental md5 for data that arrives in pieces. One thread at a time.
class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;
  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// Finishes and returns the hex digest; the object must not be updated after.
  std::string hex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wms::util
