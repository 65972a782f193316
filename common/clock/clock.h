#pragma once

// Time sources. Everything that reads time takes a Clock& so that tests inject a FakeClock and
// never sleep.

#include <atomic>
#include <cstdint>

namespace shoal {

// Thread-safe: NowMs() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, milliseconds since the unix epoch.
  virtual int64_t NowMs() const = 0;
  // Monotonic time in milliseconds (arbitrary origin); for timeouts and intervals.
  virtual int64_t MonotonicMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  int64_t MonotonicMs() const override;
  // The process-wide instance.
  static SystemClock& Get();
};

// A clock that moves only when told to. Both readings move together.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 1'700'000'000'000) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  int64_t MonotonicMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms, std::memory_order_relaxed); }
  void Advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace shoal
