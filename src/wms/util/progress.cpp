#include "wms/util/progress.hpp"

#include <fmt/format.h>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace wms::util {
namespace {

bool progress_wanted() {
  const char* env = std::getenv("WMS_PROGRESS");
  if (env && std::strcmp(env, "0") == 0) return false;
  return ::isatty(STDERR_FILENO) == 1;
}

}  // namespace

Progress::Progress(std::string label, std::size_t total)
    : label_(std::move(label)), total_(total), enabled_(progress_wanted()), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (enabled_) draw(true);
}

void Progress::tick(std::size_t n) {
  done_ += n;
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::set_note(std::string note) {
  std::lock_guard lock(mu_);
  note_ = std::move(note);
}

// Caller holds mu_ (or is the destructor).
void Progress::draw(bool final) {
  std::size_t done = done_.load();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? done / secs : 0;
  double frac = total_ ? static_cast<double>(done) / total_ : 1.0;
  int width = 24;
  int filled = static_cast<int>(frac * width);
  std::string bar(filled, '#');
  bar.resize(width, '.');
  std::string eta = (rate > 0 && done < total_) ? fmt::format(" eta {:.0f}s", (total_ - done) / rate) : "";
  std::fprintf(stderr, "\r%s [%s] %zu/%zu %.1f/s%s %s\033[K%s", label_.c_str(), bar.c_str(), done, total_, rate,
               eta.c_str(), note_.c_str(), final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace wms::util
