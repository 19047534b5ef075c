// parallel_for: run f(i) for i in [0, n) on `threads` threads (0 = every core).
// Work is handed out one index at a time; the first exception thrown by any f is
// rethrown in the caller after all threads have joined (the rest are dropped).
#pragma once

#include <cstddef>
#include <functional>

namespace wms::util {

/// Number of cores this process may use (sched_getaffinity), at least 1.
unsigned available_cores();

void parallel_for(std::size_t n, unsigned threads, const std::function<void(std::size_t)>& f);

}  // namespace wms::util
