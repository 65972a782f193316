#pragma once

// StreamPacer: keeps a key stream (a joining node's pull, a rebalancer's push, a decommission's
// hand-off) under --stream-rate bytes per second. The caller reports the bytes it moved and
// waits as long as told before moving more. Idle time is not saved up beyond a short burst
// (kBurstMs), so a stream that paused does not then run at full speed. The rate may change
// between chunks (SIGHUP reloads --stream-rate): the new one applies from the next chunk.
//
// Pure (time is passed in); not thread-safe: one stream's thread.

#include <cstdint>

namespace shoal::node {

class StreamPacer {
 public:
  static constexpr int64_t kBurstMs = 100;

  // `bytes_per_s` 0: unlimited.
  explicit StreamPacer(uint64_t bytes_per_s) : rate_(bytes_per_s) {}

  // `bytes` were moved at `now_ms` (monotonic): the milliseconds to wait before moving more.
  int64_t Spend(uint64_t bytes, int64_t now_ms);

  // Changes the rate (0: unlimited); true when it differs from the current one. The wait owed
  // for the bytes already moved is forgiven: a caller waiting may stop and move on at the new
  // rate.
  bool SetRate(uint64_t bytes_per_s);

 private:
  uint64_t rate_;
  double next_ms_ = 0;  // when the bytes moved so far are paid for
  bool started_ = false;
};

}  // namespace shoal::node
