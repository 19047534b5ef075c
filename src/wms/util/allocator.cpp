#include "wms/util/allocator.hpp"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace wms::util {

bool configure_allocator() {
  const char* env = std::getenv("WMS_MALLOC");
  if (env && std::strcmp(env, "default") == 0) return false;
  mallopt(M_MMAP_MAX, 0);         // never serve big blocks with mmap
  mallopt(M_TRIM_THRESHOLD, -1);  // never give the heap top back to the OS
  // One arena for every thread: a thread's own arena lives in 64 MiB mmap'd heaps that
  // glibc unmaps as soon as they are empty, whatever the trim threshold, so a worker
  // thread running the model (the server's compute thread, the batch loader) paid
  // page faults for its activations again on every pass (a third of the server's CPU
  // at 8 clients went to the kernel).
  mallopt(M_ARENA_MAX, 1);
  return true;
}

}  // namespace wms::util
