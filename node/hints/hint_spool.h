#pragma once

// HintSpool: the durable store of hints (hinted handoff, docs/architecture.md) in a RocksDB
// database under <data-dir>/hints. Records are laid out by hint_record.h: one target's hints are
// contiguous and in version order.
//
//   auto spool = HintSpool::Open(dir + "/hints", {.max_bytes = 1 << 30, .window_ms = 3 * 3600000},
//                                clock);
//   if (const char* why = (*spool)->Admit(bytes)) refuse(why);   // any thread
//   (*spool)->Append(batch);                                      // one writer thread (synced)
//   auto hints = (*spool)->Next("n2", cursor, 64);                // the replay thread
//   (*spool)->Remove(delivered);                                  // the replay thread
//
// Bound. --hint-max-bytes bounds the bytes of the held records (Hint::SpoolBytes) plus those
// admitted and not yet written: Admit() reserves room (or refuses: the caller counts it
// refused), Append() turns the reservation into held bytes (or gives it back for a duplicate or
// a failed write).
//
// Expiry. A hint is dropped (counted hints_expired) once it is older than the window (wall time
// since it was spooled; a window of 0 means hints are disabled: Admit refuses, and what an
// earlier run spooled is still delivered, never expired by age) or once its key's expiry has
// passed. Next() drops the expired hints it meets; Sweep() drops them everywhere and is cheap
// when nothing can have expired (it keeps the oldest stored second and a lower bound of the
// expiries held).
//
// Durability. Append writes one WriteBatch with WriteOptions.sync: when it returns ok every hint
// in it survives a crash (kill -9, power loss). Removals are not synced: a removal lost in a
// crash makes the hint be delivered again, which is harmless (the put carries its version).
// Open() rebuilds the accounting (pending, bytes, ages) by reading every record.
//
// Counters. The spool holds no counter: every thread that uses it holds its own SpoolCounters
// (cells, common/metrics/cells.h: each shard for the HintPuts it refuses, the writer, the
// replayer, the rebalancer's decommission) and passes them to the calls that count; the node
// attaches them all to the same series, which sum them (node/server/node_metrics.cc).
//
// Thread rules: Admit, Release, Targets and Stats from any thread; Append from one thread at a
// time (the writer); Next, Remove, Drop and Sweep from one thread at a time (the replayer, or the
// rebalancer handing the hints off). Appends and replay may run concurrently.

#include <rocksdb/db.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/clock.h"
#include "common/status/status.h"
#include "node/hints/hint_counters.h"
#include "node/hints/hint_record.h"

namespace shoal::node::hints {

struct SpoolOptions {
  uint64_t max_bytes = 1ull << 30;
  int64_t window_ms = 3 * 3600 * 1000;  // 0: hints disabled
};

// What the spool holds now.
struct SpoolStats {
  uint64_t pending = 0;        // hints held
  uint64_t pending_bytes = 0;  // their bytes (Hint::SpoolBytes)
  int64_t oldest_age_ms = 0;   // age of the oldest held hint, to the second (0: none)
};

class HintSpool {
 public:
  static StatusOr<std::unique_ptr<HintSpool>> Open(const std::string& path, SpoolOptions options,
                                                   const Clock& clock);
  ~HintSpool();
  HintSpool(const HintSpool&) = delete;
  HintSpool& operator=(const HintSpool&) = delete;

  const SpoolOptions& options() const { return options_; }
  bool enabled() const { return options_.window_ms > 0; }

  // Reserves `bytes` for a hint about to be appended. Returns nullptr, or why the hint is refused
  // (a static string; the caller counts it in its `refused`): hints disabled, or the spool is
  // full.
  const char* Admit(size_t bytes);
  // Gives back a reservation whose hint will not be appended.
  void Release(size_t bytes);

  // Makes `hints` durable in one synced write, stamping stored_ms with the clock's wall time.
  // Every hint must have been admitted with its SpoolBytes(); the reservations become held bytes
  // (a hint already held, or repeated in `hints`, is not written twice: its reservation is given
  // back). On error nothing is held and every reservation is given back. Counts the hints
  // written in `counters.stored`.
  Status Append(std::vector<Hint>& hints, SpoolCounters& counters);

  // Up to `max` held hints of `target`, in record order, after the record key `after` (from the
  // first when empty). Expired hints met on the way are dropped (not returned; counted in
  // `counters.expired`).
  StatusOr<std::vector<Hint>> Next(std::string_view target, std::string_view after, size_t max,
                                   SpoolCounters& counters);
  // Removes hints their target acknowledged (counted in `counters.replayed`).
  Status Remove(const std::vector<Hint>& delivered, SpoolCounters& counters);
  // Removes a hint its target refuses for good (counted in `counters.rejected`).
  Status Drop(const Hint& hint, SpoolCounters& counters);
  // Drops every expired hint, when any can have expired (counted in `counters.expired`). Returns
  // how many were dropped.
  StatusOr<uint64_t> Sweep(SpoolCounters& counters);

  // Targets holding hints, in id order.
  std::vector<std::string> Targets() const;
  // Hints held for `target`.
  uint64_t PendingFor(std::string_view target) const;
  SpoolStats Stats() const;

 private:
  HintSpool(SpoolOptions options, const Clock& clock) : options_(options), clock_(clock) {}

  bool Expired(const Hint& hint, int64_t now_ms) const;
  // Accounting (under mu_).
  void HoldLocked(const Hint& hint);
  void ForgetLocked(const Hint& hint);
  // Deletes those of `hints` still held (not synced) and forgets them; counts them in `counter`.
  // A hint removed already (by another thread: the replayer and a decommission's hand-off can
  // both have read it) is neither forgotten nor counted again. `deleted`: how many were held.
  Status Delete(const std::vector<Hint>& hints, metrics::Counter& counter,
                uint64_t* deleted = nullptr);

  const SpoolOptions options_;
  const Clock& clock_;
  std::unique_ptr<rocksdb::DB> db_;

  // Serializes Append and Delete: whether a hint is held, its write, and the accounting of it are
  // one step. Taken before mu_, never under it.
  std::mutex write_mu_;
  mutable std::mutex mu_;
  struct TargetState {
    uint64_t count = 0;
    uint64_t bytes = 0;
  };
  std::map<std::string, TargetState, std::less<>> targets_;  // guarded by mu_; only non-empty
  std::map<int64_t, uint64_t> stored_seconds_;  // guarded by mu_: stored_ms / 1000 -> hints
  uint64_t pending_ = 0;                        // guarded by mu_
  uint64_t held_bytes_ = 0;                     // guarded by mu_
  uint64_t reserved_bytes_ = 0;                 // guarded by mu_
  int64_t min_expire_at_ms_ = 0;  // guarded by mu_: <= every held expiry (0: none held)
};

}  // namespace shoal::node::hints
