// Wall-clock time for the whole library: run and lease times, version and bundle
// creation times, data-branch names. Reading it in one place lets a test set the time
// (lease expiry, deadlines) without sleeping. Elapsed-time measurements (durations,
// timeouts) use std::chrono::steady_clock directly and are not affected.
//
// Thread safety: every function is thread-safe; a FakeClock must outlive the calls
// made while it is set.
#pragma once

#include <string>

namespace wms::util {

/// Now, in UNIX seconds (UTC, fractional), from the system clock or a FakeClock.
double now_seconds();

/// "YYYY-MM-DDTHH:MM:SSZ" (ISO 8601, UTC, whole seconds truncated) of UNIX seconds.
std::string iso_time(double unix_seconds);
/// now_seconds() formatted with `strftime_format` in UTC, e.g. "%Y%m%d-%H%M%S".
std::string utc_now(const char* strftime_format = "%Y-%m-%dT%H:%M:%SZ");
/// Reads "2026-03-01T12:00:00Z", "2026-03-01 12:00:00" or "2026-03-01" (UTC) as UNIX
/// seconds. Throws InvalidInput naming the text and the accepted forms.
double parse_iso_time(const std::string& text);

/// While alive, now_seconds() returns the time this clock is set to (tests only; one at
/// a time per process).
class FakeClock {
 public:
  explicit FakeClock(double unix_seconds);
  ~FakeClock();
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;
  void set(double unix_seconds);
  void advance(double seconds);
};

}  // namespace wms::util
