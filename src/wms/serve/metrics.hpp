// Prometheus metrics of the server, rendered in the text exposition format 0.0.4:
// requests by route and code, request latency histogram, inference seconds histogram,
// in-flight gauge, model version info, last reload time, and how the replica follows
// production (production's version, behind or not, failed reloads). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace wms::serve {

class Metrics {
 public:
  void request(const std::string& route, int code, double seconds);
  void inference(double seconds);
  void in_flight(int delta);
  /// What ModelFollower reports after each check: versions (0: none), failed reloads
  /// so far, when the served version was swapped in (unix seconds).
  void model_status(int served, int production, std::uint64_t failures, double loaded_at);
  /// A prediction refused with 503: too many in flight, or it did not start within its queue timeout.
  void rejected_overload();
  /// A prediction dropped before it was computed because its client closed the connection.
  void abandoned();
  std::string render() const;

 private:
  struct Histogram {
    std::vector<double> bounds;
    std::vector<unsigned long long> counts;  // per bucket (not cumulative)
    double sum = 0;
    unsigned long long count = 0;
    void observe(double v);
  };
  static Histogram make(std::vector<double> bounds);

  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, unsigned long long> requests_;       // guarded by mu_
  std::map<std::string, Histogram> latency_;                                 // guarded by mu_
  Histogram inference_ = make({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});  // guarded by mu_
  int in_flight_ = 0;                                                        // guarded by mu_
  int model_version_ = 0;                                                    // guarded by mu_
  int production_version_ = 0;                                               // guarded by mu_
  std::uint64_t reload_failures_ = 0;                                        // guarded by mu_
  double last_reload_ = 0;                                                   // guarded by mu_
  unsigned long long overload_ = 0;                                          // guarded by mu_
  unsigned long long abandoned_ = 0;                                         // guarded by mu_
};

}  // namespace wms::serve
