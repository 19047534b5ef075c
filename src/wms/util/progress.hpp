// A one-line progress bar on stderr for long work. It draws only when stderr is a
// terminal (and WMS_PROGRESS is not 0), so logs and pipes stay clean.
// Thread-safe: tick() may be called from worker threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace wms::util {

class Progress {
 public:
  Progress(std::string label, std::size_t total);
  ~Progress();  ///< finishes the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void tick(std::size_t n = 1);
  /// Extra text shown after the counter (e.g. "loss 0.12").
  void set_note(std::string note);

 private:
  void draw(bool final);

  const std::string label_;
  const std::size_t total_;
  const bool enabled_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<std::size_t> done_{0};
  std::mutex mu_;
  std::string note_;                                 // guarded by mu_
  std::chrono::steady_clock::time_point last_draw_;  // guarded by mu_
};

}  // namespace wms::util
