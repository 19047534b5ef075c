#include "wms/util/clock.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>

#include "wms/util/error.hpp"

namespace wms::util {
namespace {

// NaN: no fake clock is set.
std::atomic<double> fake_now{std::nan("")};

}  // namespace

double now_seconds() {
  double fake = fake_now.load(std::memory_order_acquire);
  if (!std::isnan(fake)) return fake;
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso_time(double t) {
  auto tp = std::chrono::system_clock::time_point(std::chrono::seconds(static_cast<long long>(t)));
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", tp);
}

std::string utc_now(const char* format) {
  std::time_t t = static_cast<std::time_t>(now_seconds());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[128];
  std::size_t n = std::strftime(out, sizeof(out), format, &tm);
  return std::string(out, n);
}

double parse_iso_time(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) end = strptime(text.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
  if (!end) {
    std::tm day{};
    end = strptime(text.c_str(), "%Y-%m-%d", &day);
    if (end && *end == '\0') return static_cast<double>(timegm(&day));
    throw InvalidInput("'{}' is not a time (use 2026-03-01T12:00:00Z, UTC)", text);
  }
  if (*end != '\0' && !(end[0] == 'Z' && end[1] == '\0'))
    throw InvalidInput("'{}' is not a time (use 2026-03-01T12:00:00Z, UTC)", text);
  return static_cast<double>(timegm(&tm));
}

FakeClock::FakeClock(double t) {
  set(t);
}
FakeClock::~FakeClock() {
  fake_now.store(std::nan(""), std::memory_order_release);
}
void FakeClock::set(double t) {
  fake_now.store(t, std::memory_order_release);
}
void FakeClock::advance(double s) {
  fake_now.store(fake_now.load() + s, std::memory_order_release);
}

}  // namespace wms::util
