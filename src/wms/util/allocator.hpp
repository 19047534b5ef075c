// Process start-up tuning of glibc malloc for tensor workloads (DESIGN.md "Memory
// allocator"): big blocks stay in the heap instead of being mmap'ed and unmapped
// every step, so they are not paid again in first-touch page faults (a training step
// was measured 9x slower without this). Equivalent to the environment
// MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=-1 MALLOC_ARENA_MAX=1. Call once, first thing
// in main(), before any thread starts.
#pragma once

namespace wms::util {

/// Applies the tuning unless WMS_MALLOC=default. Returns true when applied.
bool configure_allocator();

}  // namespace wms::util
