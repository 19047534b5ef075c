#include "wms/util/failpoint.hpp"

#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

#include "wms/util/error.hpp"

namespace wms::util {
namespace {

std::map<std::string, std::string, std::less<>> parse_failpoints() {
  std::map<std::string, std::string, std::less<>> out;
  const char* env = std::getenv("WMS_FAILPOINTS");
  if (!env || !*env) return out;
  std::string_view s(env);
  while (!s.empty()) {
    auto comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string name(item.substr(0, eq));
    out[name] = eq == std::string_view::npos ? "error" : std::string(item.substr(eq + 1));
  }
  return out;
}

}  // namespace

void failpoint(std::string_view name) {
  const auto armed = parse_failpoints();
  if (armed.empty()) return;
  auto it = armed.find(name);
  if (it == armed.end()) return;
  if (it->second == "exit") ::_exit(86);
  if (it->second == "sleep") {  // a slow step (a slower machine), 2 s per hit
    std::this_thread::sleep_for(std::chrono::seconds(2));
    return;
  }
  std::string where = "failpoint " + std::string(name);
  if (it->second == "enospc") throw IoError(where, "write", ENOSPC);  // a full disk
  if (it->second == "notfound") throw NotFound("{}: injected missing file", where);
  throw IoError(where, "injected failure");
}

}  // namespace wms::util
