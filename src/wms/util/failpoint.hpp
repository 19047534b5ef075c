// Named failpoints: reach "crashed between step k and k+1" on demand in tests.
//
// A failpoint is inert unless the environment variable WMS_FAILPOINTS lists it:
//   WMS_FAILPOINTS="data_add.after_objects"        throw IoError at that point
//   WMS_FAILPOINTS="data_add.after_objects=exit"   _exit(86) there, like kill -9
//   WMS_FAILPOINTS="x=enospc"                      IoError "No space left on device" (a full disk)
//   WMS_FAILPOINTS="x=notfound"                    NotFound
//   WMS_FAILPOINTS="x=sleep"                       sleep 2 s there, then go on (a slow machine)
// (comma-separated for several). Read at each call, so tests may setenv(); thread-safe
// as long as nobody changes the environment concurrently.
#pragma once

#include <string_view>

namespace wms::util {

/// Fires the named failpoint if WMS_FAILPOINTS arms it; otherwise does nothing.
void failpoint(std::string_view name);

}  // namespace wms::util
