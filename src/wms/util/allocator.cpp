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
  return true;
}

}  // namespace wms::util
