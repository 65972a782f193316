#pragma once

// Hybrid logical clock (Kulkarni et al.): a 64-bit timestamp that tracks wall time but never goes
// backwards and orders causally related events even under clock skew.
//
//   63                                 16 15              0
//   +------------------------------------+----------------+
//   |  physical: wall milliseconds (48)  | logical (16)   |
//   +------------------------------------+----------------+
//
// A Version adds the writer's id as tie-break; versions are totally ordered by (hlc, writer) and
// last-writer-wins picks the greatest.

#include <atomic>
#include <compare>
#include <cstdint>

#include "common/clock/clock.h"
#include "common/status/status.h"

namespace shoal {

struct Version {
  uint64_t hlc = 0;
  uint64_t writer = 0;

  auto operator<=>(const Version&) const = default;
  bool IsZero() const { return hlc == 0 && writer == 0; }
};

// A writer id for this process start: 64 random bits (never 0), so that two writers (proxies,
// nodes, tools, or one of them restarted) tie on a version with negligible probability.
uint64_t NewWriterId();

inline constexpr int kHlcLogicalBits = 16;
inline constexpr uint64_t kHlcLogicalMask = (uint64_t{1} << kHlcLogicalBits) - 1;

inline uint64_t HlcFromParts(uint64_t wall_ms, uint64_t logical) {
  return (wall_ms << kHlcLogicalBits) | (logical & kHlcLogicalMask);
}
inline uint64_t HlcWallMs(uint64_t hlc) { return hlc >> kHlcLogicalBits; }
inline uint64_t HlcLogical(uint64_t hlc) { return hlc & kHlcLogicalMask; }

// Thread-safe and lock-free (one compare-and-swap per call).
class HybridLogicalClock {
 public:
  // `max_offset_ms`: remote timestamps further ahead of our wall clock than this are refused.
  HybridLogicalClock(const Clock& clock, int64_t max_offset_ms)
      : clock_(clock), max_offset_ms_(max_offset_ms) {}

  // A new timestamp, strictly greater than every timestamp this clock has returned or merged.
  uint64_t Now() { return NowAt(clock_.NowMs()); }
  // The same, with the wall clock already read by the caller (`wall_ms`, unix milliseconds):
  // for callers that read the clock once for a batch of events.
  uint64_t NowAt(int64_t wall_ms);

  // Merges a timestamp seen from a peer so that later Now() values are greater than it.
  // Refuses (InvalidArgument, clock unchanged) one whose wall part is more than max_offset_ms
  // ahead of the local wall clock.
  Status Update(uint64_t remote_hlc);

  // Raises the clock to at least `hlc` without the offset check (used when learning the cluster's
  // high-water mark at start-up from trusted nodes, or restoring a persisted one).
  void Observe(uint64_t hlc);

  // The last timestamp issued or merged (no new timestamp is taken).
  uint64_t Last() const { return last_.load(std::memory_order_acquire); }

  int64_t max_offset_ms() const { return max_offset_ms_; }

 private:
  const Clock& clock_;
  const int64_t max_offset_ms_;
  std::atomic<uint64_t> last_{0};
};

}  // namespace shoal
