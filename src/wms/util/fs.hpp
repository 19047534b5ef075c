// File-system primitives: the one way wms persists (atomic_write), whole-file reads,
// and an advisory workspace lock. Every failure throws IoError naming the file.
//
// Durability contract of atomic_write / atomic_copy: when they return, the file has
// its new content on disk under its final name; if they throw or the process dies,
// the file keeps its old content (or stays absent). Never half a file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace wms::util {

namespace fs = std::filesystem;

/// Reads a whole file. Throws IoError if it is missing or larger than max_bytes.
std::string read_file(const fs::path& path, std::uint64_t max_bytes = UINT64_MAX);

/// temp file in the same directory -> write -> fsync -> rename -> fsync(dir).
void atomic_write(const fs::path& path, std::string_view bytes, unsigned mode = 0644);

/// Copies src to dst with the same guarantee as atomic_write.
void atomic_copy(const fs::path& src, const fs::path& dst, unsigned mode = 0644);

/// Appends one line (adds '\n') and fsyncs: for append-only logs.
void append_line(const fs::path& path, std::string_view line);

/// fsync a directory so that renames and creations in it are durable.
void fsync_dir(const fs::path& dir);

/// create_directories that throws IoError naming the path.
void make_dirs(const fs::path& dir);

/// An exclusive advisory lock on a file (flock), released by the destructor or at
/// process death (so kill -9 never leaves it held). One object per holder.
class FileLock {
 public:
  /// Takes the lock; if another process holds it, waits up to wait_seconds, then
  /// throws Conflict("<what> is busy: ...").
  FileLock(const fs::path& path, std::string_view what, double wait_seconds = 0);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace wms::util
