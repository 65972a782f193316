#pragma once

// ClockCeiling: a bound, persisted before use, on every version the node acknowledges, so that
// after a crash (kill -9, power loss) the node still reports a max_hlc at least as high as any
// version it acknowledged (issue 7 item 6; CockroachDB and Cassandra bound their clocks the same
// way).
//
// The file <data-dir>/hlc (hlc_file.h) holds the durable ceiling. The node's main thread keeps
// it ahead of use: whenever the highest version it must cover (the wall clock, the highest
// version held, a version waiting) comes within kRefreshMs of the durable ceiling, it writes
// that version + kMarginMs (one fsync'd write every ~kMarginMs - kRefreshMs of steady traffic,
// off the shard threads). A shard thread only compares a write's HLC with durable(): one relaxed
// load of a rarely written word, no lock. A write above it (a writer whose clock is more than
// the margin ahead, or a wall clock that jumped) is parked by its shard, which calls Want(); the
// main thread persists a ceiling above it at once and then tells the shards to run their parked
// requests (ShardWorker "Clock ceiling"). Nothing is refused for it; such a write waits one
// fsync.
//
// After a crash the node reports the ceiling it finds, which is at most kMarginMs above the
// highest version it had to cover (a peer that starts its clock from it runs that far ahead of
// the wall clock until the wall clock catches up). A clean stop writes the exact max instead.
//
// Thread rules: durable() and Want() from any thread; the rest on the main thread.

#include <uv.h>

#include <atomic>
#include <cstdint>

namespace shoal::node {

class ClockCeiling {
 public:
  static constexpr uint64_t kMarginMs = 5000;
  static constexpr uint64_t kRefreshMs = 2500;

  // Every version with an HLC at or below this is covered by the file.
  uint64_t durable() const { return durable_.load(std::memory_order_acquire); }

  // Any thread: a version `hlc` above durable() waits; asks the main thread to persist a
  // ceiling above it (wakes it through `wake`, once bound).
  void Want(uint64_t hlc);

  // Main thread. Binds the uv_async that Want() sends (nullptr: none, for tests).
  void BindWake(uv_async_t* wake) { wake_ = wake; }
  // The HLC to persist now, or 0 when the durable ceiling is far enough ahead of `wall_ms` (unix
  // ms), `max_hlc` (the highest version held) and every wanted version.
  uint64_t Target(int64_t wall_ms, uint64_t max_hlc) const;
  // Records that `hlc` is on disk.
  void SetDurable(uint64_t hlc) { durable_.store(hlc, std::memory_order_release); }
  // Whether some Want() is still above durable().
  bool Waiting() const { return wanted_.load(std::memory_order_acquire) > durable(); }

 private:
  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> wanted_{0};
  uv_async_t* wake_ = nullptr;
};

}  // namespace shoal::node
