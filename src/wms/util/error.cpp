#include "wms/util/error.hpp"

#include <cstring>

namespace wms {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput: return "INVALID_INPUT";
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kConflict: return "CONFLICT";
    case ErrorCode::kCorrupt: return "CORRUPT";
    case ErrorCode::kIo: return "IO";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kCancelled: return "CANCELLED";
    case ErrorCode::kInternal: return "INTERNAL";
    case ErrorCode::kDenied: return "DENIED";
  }
  return "UNKNOWN";
}

int exit_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput: return 3;
    case ErrorCode::kNotFound: return 4;
    case ErrorCode::kConflict: return 5;
    case ErrorCode::kCorrupt: return 6;
    case ErrorCode::kIo: return 7;
    case ErrorCode::kUnavailable: return 8;
    case ErrorCode::kCancelled: return 130;
    case ErrorCode::kInternal: return 70;
    case ErrorCode::kDenied: return 9;
  }
  return 70;
}

IoError::IoError(const std::string& path, std::string_view action, int err)
    : Error(ErrorCode::kIo, fmt::format("{}: {} failed: {}", path, action, std::strerror(err))) {}

}  // namespace wms
