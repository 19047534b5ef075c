// Ctrl-C and SIGTERM for long work: the first signal sets a flag that the work polls
// (it then stops cleanly and its cleanup runs); a second one ends the process at once.
#pragma once

namespace wms::util {

/// Signals within this long of the first are the same request delivered twice (`timeout`
/// signals the child and then its process group), not a second press.
inline constexpr long long kRepeatWindowMs = 1000;

/// Installs the handlers for SIGINT and SIGTERM (idempotent).
void install_interrupt_handler();
/// True once SIGINT or SIGTERM arrived.
bool interrupted();

}  // namespace wms::util
