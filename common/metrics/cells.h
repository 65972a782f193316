#pragma once

// Metric cells: the values a thread counts into on its hot path.
//
// A cell has ONE writer, its owner thread, which updates it with a relaxed load and store (no
// read-modify-write instruction, no shared cache line with other threads' cells). Any thread may
// read it (relaxed) at any time: the registry (registry.h) sums the cells of a series when it is
// scraped, so a value is at most a few updates stale and never torn.
//
// Each module declares its cells once, as members of the struct its owner thread holds (one per
// thread: Dragonfly's per-shard Stats, summed on read), listed in an X-macro with their
// Prometheus name and help text (see SHOAL_METRIC_FIELD below and registry.h's Attach).
//
// A cell used by more than one writer thread loses updates: give each thread its own cell and
// attach them all to the same series.

#include <array>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>

namespace shoal::metrics {

// A monotonically increasing count (Prometheus counter; its name ends in _total).
class Counter {
 public:
  // Owner thread only.
  void Inc(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Any thread.
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (Prometheus gauge). The cells of a series are summed, so a
// per-thread gauge holds that thread's share (its connections, its bytes).
class Gauge {
 public:
  // Owner thread only.
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Any thread.
  int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Observations counted into buckets (Prometheus histogram). `bounds` are the buckets' inclusive
// upper bounds, ascending, at most kMaxBuckets of them, in static storage (the cell keeps the
// span); an observation above the last bound falls in the implicit +Inf bucket.
class Histogram {
 public:
  static constexpr size_t kMaxBuckets = 23;

  explicit Histogram(std::span<const double> bounds) : bounds_(bounds) {
    assert(bounds.size() <= kMaxBuckets);
  }

  // Owner thread only.
  void Observe(double v) {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    Bump(counts_[i], 1);
    sum_.store(sum_.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }

  // Any thread.
  std::span<const double> bounds() const { return bounds_; }
  // Observations in bucket i alone (not cumulative); i == bounds().size() is the +Inf bucket.
  uint64_t BucketCount(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t Count() const {
    uint64_t n = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) n += BucketCount(i);
    return n;
  }

 private:
  static void Bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  std::span<const double> bounds_;
  std::array<std::atomic<uint64_t>, kMaxBuckets + 1> counts_{};
  std::atomic<double> sum_{0};
};

// Request latencies in seconds: 50 us to 5 s.
inline constexpr double kLatencySeconds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                             0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                             0.5,     1,      2.5,     5};

}  // namespace shoal::metrics

// X-macro helpers. A module lists its metrics once:
//
//   #define SHOAL_FOO_METRICS(X)
//     X(Counter, requests, "shoal_foo_requests_total", "requests received")
//     X(Gauge, connections, "shoal_foo_connections", "open connections")
//   (one X per line, each line ending in a backslash)
//
//   struct FooStats { SHOAL_FOO_METRICS(SHOAL_METRIC_FIELD) };           // the cells
//   SHOAL_FOO_METRICS(SHOAL_METRIC_ATTACH)  // with `registry`, `owner`, `labels`, `stats` in scope
#define SHOAL_METRIC_FIELD(type, field, name, help) ::shoal::metrics::type field;
#define SHOAL_METRIC_ATTACH(type, field, name, help) \
  registry.Attach##type(name, help, labels, stats.field, owner);
