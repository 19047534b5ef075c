// wms::Error — the exceptions libwms throws, and the stable codes behind them.
//
// Throw inside libwms, convert at the boundaries (CLI: exit code + one stderr line;
// HTTP: status code). Expected outcomes are values, not exceptions: lookups return
// std::optional, validation returns a Report.
//
// Messages read "who: what (rule)", e.g. "images/x.jpg: truncated JPEG (rule file.decodable)",
// so a user can act on them without reading the source.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace wms {

/// Error kinds. Written to JSON and mapped to exit codes: never renumber, never reuse.
enum class ErrorCode : int {
  kInvalidInput = 1,  ///< the user's input breaks a rule: fix the input
  kNotFound = 2,      ///< a named thing does not exist
  kConflict = 3,      ///< the state moved or clashes (lock held, name taken)
  kCorrupt = 4,       ///< stored data fails its own checks
  kIo = 5,            ///< the operating system refused (disk full, permission)
  kUnavailable = 6,   ///< try again later
  kCancelled = 7,     ///< the user interrupted
  kInternal = 8,      ///< a bug in wms
  kDenied = 9,        ///< a server refused the credentials or the permission
};

std::string_view error_code_name(ErrorCode code);

/// Process exit code for an error of this kind (documented in `wms --help`).
int exit_code_for(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

#define WMS_DEFINE_ERROR(Name, Code)                                                                                  \
  class Name : public Error {                                                                                         \
   public:                                                                                                            \
    explicit Name(const std::string& message) : Error(Code, message) {}                                               \
    template <typename... Args>                                                                                       \
    Name(fmt::format_string<Args...> f, Args&&... args) : Error(Code, fmt::format(f, std::forward<Args>(args)...)) {} \
  };

WMS_DEFINE_ERROR(InvalidInput, ErrorCode::kInvalidInput)
WMS_DEFINE_ERROR(NotFound, ErrorCode::kNotFound)
WMS_DEFINE_ERROR(Conflict, ErrorCode::kConflict)
WMS_DEFINE_ERROR(Corrupt, ErrorCode::kCorrupt)
WMS_DEFINE_ERROR(Unavailable, ErrorCode::kUnavailable)
WMS_DEFINE_ERROR(Cancelled, ErrorCode::kCancelled)
WMS_DEFINE_ERROR(Internal, ErrorCode::kInternal)
WMS_DEFINE_ERROR(Denied, ErrorCode::kDenied)
#undef WMS_DEFINE_ERROR

/// An operating-system failure on a file; the message always names the file.
class IoError : public Error {
 public:
  IoError(const std::string& path, const std::string& what) : Error(ErrorCode::kIo, path + ": " + what) {}
  /// Uses strerror(err) as the detail.
  IoError(const std::string& path, std::string_view action, int err);
};

}  // namespace wms
