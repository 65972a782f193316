#pragma once

// The deterministic core of the replication simulation: a seeded random source, simulated time
// and an event queue. Single-threaded; nothing here reads a real clock or sleeps. Two runs with
// the same seed and options execute the same events in the same order.

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace shoal::sim {

// xoshiro256** seeded by splitmix64: the same sequence on every platform and standard library
// (std:: distributions are not portable, so none are used).
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) { return Next() % n; }
  // Uniform in [lo, hi] (inclusive).
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // True with probability `p` (0..1).
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }

 private:
  uint64_t s_[4];
};

// Events ordered by (time, insertion order): ties run in the order they were scheduled.
class EventQueue {
 public:
  explicit EventQueue(int64_t start_ms) : now_(start_ms) {}

  int64_t now() const { return now_; }
  // Runs `fn` at `at_ms` (never before now()).
  void At(int64_t at_ms, std::function<void()> fn);
  void After(int64_t delay_ms, std::function<void()> fn) { At(now_ + delay_ms, std::move(fn)); }
  // Runs the earliest event (advancing now()); false when none is left.
  bool RunNext();
  bool empty() const { return events_.empty(); }
  // Runs every event due at or before `at_ms`, then sets now() to `at_ms`.
  void RunTo(int64_t at_ms) {
    while (!events_.empty() && events_.top().at <= at_ms) RunNext();
    if (at_ms > now_) now_ = at_ms;
  }
  uint64_t executed() const { return executed_; }

 private:
  struct Event {
    int64_t at;
    uint64_t seq;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> events_;
  int64_t now_;
  uint64_t seq_ = 0;
  uint64_t executed_ = 0;
};

}  // namespace shoal::sim
