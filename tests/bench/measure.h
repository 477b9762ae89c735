// The benchmarks' shared harness: run an operation on N threads for a fixed
// time after a warm-up, and report throughput and latency percentiles.
#ifndef DATAGATE_TESTS_BENCH_MEASURE_H_
#define DATAGATE_TESTS_BENCH_MEASURE_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <thread>
#include <vector>

namespace datagate::bench {

struct Result {
  double ops_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// The value at fraction `p` (0..1) of `v`; 0 for none.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * p))];
}

// Runs op(thread, i) on `threads` threads for `seconds` after a 300 ms
// warm-up; op returns false for a failed operation (counted, warned about).
inline Result Measure(double seconds, int threads, const std::function<bool(int, int64_t)>& op) {
  using Clock = std::chrono::steady_clock;
  std::vector<std::vector<double>> lat(threads);
  std::atomic<bool> measuring{false}, stop{false};
  std::atomic<int64_t> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int64_t i = 0; !stop; ++i) {
        const auto start = Clock::now();
        if (!op(t, i)) ++failures;
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
        if (measuring) lat[t].push_back(us);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  measuring = true;
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  measuring = false;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  for (auto& w : workers) w.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  if (failures > 0) std::fprintf(stderr, "warning: %lld failed operations\n", static_cast<long long>(failures.load()));
  if (all.empty()) return {};
  return Result{static_cast<double>(all.size()) / elapsed, Percentile(all, 0.5), Percentile(all, 0.99)};
}

}  // namespace datagate::bench

#endif  // DATAGATE_TESTS_BENCH_MEASURE_H_
