#pragma once

// ShardStore: the in-memory data of one shard of a node. Owned by exactly one thread (the shard's
// event loop); no method is thread-safe, except that stats() may be read from any thread.
//
// Semantics:
//  - Every entry carries a Version; last writer wins. A Put or Touch whose version is not newer
//    than the held entry's is not applied, whatever order replicas receive writes in.
//  - Deletes are Puts with tombstone=true: the tombstone keeps its version so an older value that
//    a repair or a hint brings back cannot resurrect the key. Tombstones are purged once older
//    than the grace period (measured on the store's monotonic clock from when they were written),
//    by ExpireSome() or lazily when accessed; after that an older value is accepted again.
//  - TTL: expire_at_ms is absolute unix ms (0 = never). A value is dead from its expire_at_ms on
//    (now >= expire_at_ms): reads see it as absent (NX applies, XX fails). Lazily on access and
//    actively by ExpireSome() it becomes a tombstone of its version, kept for the grace period
//    like a delete's: an older value (from a replica that missed the newer write, brought by a
//    repair or a hint) is refused instead of coming back. A put that is newer than the held entry
//    but already dead when it arrives is stored the same way, as a tombstone of its version.
//  - Touch changes the expiry of a live value only; it never creates an entry. It is therefore
//    not a full write: replicas converge under Touch only when the newest operation is a Put.
//  - Memory: stats().memory_used accounts, for every entry held (values and tombstones), its key,
//    its value and kEntryOverhead. Once an insert or growth has crossed the limit, entries are
//    evicted before the call returns, so memory_used as published never exceeds the limit.
//    Tombstones have a budget of a quarter of the limit: while the bytes charged for tombstones
//    exceed it, the oldest tombstone is evicted first, so a flood of deletes (even of keys never
//    set) cannot push out the cached values. Otherwise victims are the least-recently-used live
//    values (approximate LRU: reads, puts and touches refresh), and tombstones are evicted,
//    oldest first, only when no other value is left to evict, since losing one lets an older
//    value come back. An entry larger than the limit on its own is refused (kTooLarge) and
//    changes nothing.
//
// Cost: no allocation per call apart from the entry itself (a single malloc block per key holding
// header, key and value; an overwrite of the same size class reuses it in place) and
// PutResult::previous_value when asked for. Lookups hash the string_view key (no copy).
//
// Keys and values handed in may point anywhere, even into this store (e.g. a value just returned
// by Get). Strings handed out as string_view stay valid until the next Put, ExpireSome or
// ExpireCycle, or the
// next Get or Touch of the same key (so a batch of Gets of distinct keys may hold on to them).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"

namespace shoal::node {

enum class PutCondition : unsigned char { kAlways, kIfAbsent, kIfPresent };

struct PutRequest {
  std::string_view key;
  std::string_view value;
  Version version;
  int64_t expire_at_ms = 0;
  bool tombstone = false;
  PutCondition condition = PutCondition::kAlways;
  bool keep_ttl = false;       // keep the held live entry's expiry (SET KEEPTTL)
  bool want_previous = false;  // copy the previous live value into PutResult::previous_value
};

enum class ApplyStatus : unsigned char {
  kApplied,
  kStale,            // the held version is newer or equal: not applied
  kConditionFailed,  // NX/XX did not hold
  kTooLarge,         // the entry alone exceeds the memory limit
};

struct PutResult {
  ApplyStatus status = ApplyStatus::kApplied;
  // Version held after the call; for kApplied, the version written (even when the write was
  // already expired on arrival and is held as a tombstone).
  Version current;
  bool previous_found = false;  // a live (non-tombstone, unexpired) value was held before
  std::string previous_value;   // only filled when want_previous
  Version previous_version;     // of the entry held before (tombstone or expired too); zero if none
  int64_t previous_expire_at_ms = 0;
};

struct GetResult {
  bool found = false;  // an entry (live value or tombstone) is held
  bool tombstone = false;
  std::string_view value;  // empty for tombstones
  Version version;
  int64_t expire_at_ms = 0;
};

// An entry as Scan() shows it.
struct EntryView {
  std::string_view key;
  std::string_view value;  // empty for tombstones
  Version version;
  int64_t expire_at_ms = 0;  // 0 for tombstones
  bool tombstone = false;
};

// EXPIRE NX | XX | GT | LT: judged on the held live value's expiry (none = infinite, as Redis).
enum class TouchCondition : unsigned char {
  kAlways,
  kIfNoExpiry,          // NX
  kIfHasExpiry,         // XX
  kIfGreater,           // GT
  kIfLess,              // LT
  kIfHasExpiryAndLess,  // XX LT
};

struct TouchResult {
  bool found = false;  // a live value was held
  bool applied = false;
  bool condition_failed = false;  // found, but the TouchCondition did not hold
  std::string_view value;  // when want_value and found
  Version version;         // held after the call
  int64_t previous_expire_at_ms = 0;
};

// How much one ShardStore::ExpireCycle call may do.
struct ExpireCycleLimits {
  size_t step = 500;  // entries examined per ExpireSome step
  // Another step follows while the last one found at least this percentage of the entries it
  // examined dead (Redis: 10).
  uint32_t repeat_percent = 10;
  // However few are dead, a call examines at least (entries held / full_pass_calls) entries (empty
  // buckets crossed count, as in ExpireSome), so that a full pass over the table takes about this
  // many calls, more when many buckets are empty (time permitting). 0: no floor.
  size_t full_pass_calls = 0;
};

struct ExpireCycleResult {
  size_t steps = 0;
  size_t examined = 0;  // entries (and empty buckets) examined
  size_t removed = 0;   // values expired and tombstones removed
};

// Counters, written only by the owner thread, readable from any thread (relaxed atomics).
struct ShardStats {
  std::atomic<uint64_t> keys{0};  // live values + tombstones held
  std::atomic<uint64_t> tombstones{0};
  std::atomic<uint64_t> memory_used{0};
  std::atomic<uint64_t> evictions{0};    // entries removed to stay under the memory limit
  std::atomic<uint64_t> expirations{0};  // values whose TTL passed (each became a tombstone)
  std::atomic<uint64_t> tombstones_purged{0};
  std::atomic<uint64_t> tombstones_evicted{0};  // part of evictions: a delete's protection lost
  std::atomic<uint64_t> stale_writes{0};        // puts/touches refused as older than held
  std::atomic<uint64_t> max_hlc{0};             // highest version HLC applied or seen
};

class ShardStore {
 public:
  // Per-entry bytes charged on top of key and value: the real cost of holding an entry with
  // glibc malloc on a 64-bit machine, rounded up (see shard_store.cc for the derivation; a test
  // checks it against the allocator's own accounting):
  //   64  entry header (links, version, expiry, sizes) in front of key and value, one block
  //    8  malloc chunk header
  //   15  at most, rounding the chunk up to 16 bytes
  //   16  at most, hash bucket slots (8 bytes each, 1 to 2 buckets per entry)
  static constexpr uint64_t kEntryOverhead = 104;

  // `clock` must outlive the store. `tombstone_grace_ms` is measured on clock.MonotonicMs(); a
  // negative one counts as 0, and one whose deadline would overflow int64 keeps tombstones for
  // ever (until evicted).
  ShardStore(const Clock& clock, uint64_t memory_limit_bytes, int64_t tombstone_grace_ms);
  ~ShardStore();
  ShardStore(const ShardStore&) = delete;
  ShardStore& operator=(const ShardStore&) = delete;

  // Refreshes the recency of a live value found. A dead entry found is removed.
  GetResult Get(std::string_view key);
  PutResult Put(const PutRequest& request);
  // Sets the expiry of a live value (0 = persist) if `version` is newer than the held one; the
  // entry then takes `version`. Never creates an entry.
  // With a condition other than kAlways, the expiry changes only if the condition holds.
  TouchResult Touch(std::string_view key, Version version, int64_t expire_at_ms, bool want_value,
                    TouchCondition condition = TouchCondition::kAlways);

  // Active expiry, one step: examines about `budget` entries (each empty bucket crossed also
  // counts as one, a bucket's chain is finished once started), turning expired values into
  // tombstones and removing tombstones past the grace period. Tombstones past the grace period
  // are found in write order at no scanning cost; other entries are examined by a cursor that
  // resumes where the previous call stopped, so repeated calls cover the whole table. Returns the
  // number of entries expired or removed. Also moves about `budget` entries of a hash table
  // resize in progress, and starts giving buckets back after many removals. Call from the owner
  // thread (ExpireCycle is the periodic driver).
  size_t ExpireSome(size_t budget);

  // Active expiry, adaptive (the model is Redis' activeExpireCycle): runs ExpireSome steps of
  // limits.step entries while the last step found at least limits.repeat_percent of what it
  // examined dead (or the call has not yet examined its floor, see ExpireCycleLimits), and
  // out_of_time() -- asked after every step -- returns false. So a table full of expired entries
  // is swept as fast as the time budget allows, and one with few costs a step per call.
  // out_of_time must not call into the store.
  template <typename OutOfTime>
  ExpireCycleResult ExpireCycle(const ExpireCycleLimits& limits, OutOfTime&& out_of_time) {
    using F = std::remove_reference_t<OutOfTime>;
    return ExpireCycleImpl(
        limits, [](void* f) -> bool { return (*static_cast<F*>(f))(); },
        static_cast<void*>(std::addressof(out_of_time)));
  }

  // Iteration (Merkle digests, range streaming): calls fn(const EntryView&) for the live values
  // and tombstones of a few hash buckets, at least `count` entries unless the traversal ends, and
  // returns the cursor to pass next; 0 is both the first cursor and the end. Every entry held for
  // the whole traversal is visited at least once (rarely twice), even as the table resizes
  // between calls. Dead entries are skipped, not removed. fn must not call into the store.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, size_t count, Fn&& fn) const {
    using F = std::remove_reference_t<Fn>;
    return ScanImpl(
        cursor, count, [](void* f, const EntryView& e) { (*static_cast<F*>(f))(e); },
        const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
  }

  uint64_t memory_limit() const { return memory_limit_; }
  const ShardStats& stats() const { return stats_; }

 private:
  struct Impl;

  ExpireCycleResult ExpireCycleImpl(const ExpireCycleLimits& limits, bool (*out_of_time)(void*),
                                    void* fn);
  uint64_t ScanImpl(uint64_t cursor, size_t count, void (*visit)(void*, const EntryView&),
                    void* fn) const;

  const Clock& clock_;
  const uint64_t memory_limit_;
  const int64_t tombstone_grace_ms_;
  ShardStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::node
