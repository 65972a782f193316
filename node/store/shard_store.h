#pragma once

// ShardStore: the in-memory data of one shard of a node. Owned by exactly one thread (the shard's
// event loop); no method is thread-safe, except that stats() may be read from any thread.
//
// Semantics (docs/replication.md is the contract):
//  - A key's state (value or tombstone, expiry) is ordered by the pair (version, expiry_version),
//    compared lexicographically; the greater pair wins whole. A Put is applied iff its pair is
//    greater than the held one (and, for an absent key, greater than the key's evicted-version
//    floor, below); the whole state is replaced. expiry_version zero means "== version".
//  - Deletes are Puts with tombstone=true: the tombstone keeps its pair so an older value that a
//    repair or a hint brings back cannot resurrect the key. Tombstones are purged once older than
//    the grace period (measured on the store's monotonic clock from when they were written), by
//    ExpireSome() or lazily when accessed.
//  - TTL: expire_at_ms is absolute unix ms (0 = never). A value is dead from its expire_at_ms on
//    (now >= expire_at_ms) and is, everywhere it is observed (Get, Scan, conditions), a tombstone
//    of its pair; lazily on access and actively by ExpireSome() it becomes one, kept for the grace
//    period like a delete's. A put that is newer than the held entry but already dead when it
//    arrives is stored the same way.
//  - Element tombstones (HDEL, SREM) of a hash or set are purged once their version is older
//    than the element grace on the wall clock (SetElementGrace; by ExpireSome's sweep and when
//    a write merges into the body), raising the body's floor (common/typed/elements.h), which
//    keeps a replica that missed the removal from bringing the field back.
//  - A hash or set whose elements are all removed (an "empty aggregate") is held as a live value
//    (its element tombstones and whole-key version still merge), but is no key to Redis: it is
//    no previous live value for a Put (previous_found, NX/XX, KEEPTTL), a Touch finds nothing,
//    Scan flags it (EntryView::empty_aggregate) and stats count it apart. Get returns it (a
//    reader merges its body).
//  - Touch(E) applies to a live value only, iff E > its expiry_version: it sets the expiry and
//    expiry_version = E and never changes the value or its version. It never applies to
//    tombstones, expired values or absent keys, and never creates an entry.
//
// Flush marker (FLUSHALL, docs/replication.md "Flush"): a Version M. Flush(M) removes every entry
// whose pair is below (M, M); from then on the store behaves as if every key it does not hold were
// a tombstone of the pair (M, M): a Put of a pair at or below it is refused as stale (the reply
// reports (M, M) as the held pair, so a writer re-stamps above it), and Get and Touch of a key not
// held report a tombstone of (M, M) (so a reader resolving replicas lets the flush win over a
// replica that missed it, and repairs that replica with the tombstone). The marker only grows.
//
// What eviction remembers (the evicted-version floor): every entry removed without leaving a
// tombstone (evicted values, expired values removed by eviction, evicted tombstones, tombstones
// purged after their grace) raises the floor of its bucket of the 64-bit key hash to the
// removed pair. A Put to an absent key whose pair is not greater than its bucket's floor is
// refused as stale (counted in stale_writes; the reply reports the floor as the held pair, so a
// writer re-stamps above it). So the store never applies, for any key, a pair lower than or equal
// to one it held before, across evictions and purges. The price is false refusals: an older write
// to an absent key whose bucket a newer removal raised is refused too. That is safe for a cache:
// the key stays absent (a miss), never stale; client writes carry fresh versions above the floor
// (a writer whose clock lags learns the floor from the reply and re-stamps). Cost: a fixed array
// of 32-byte pairs per shard, one bucket per 4 KiB of the memory limit (a power of two, 256 to
// 65,536 buckets: at most 0.8% of the limit, at most 2 MiB per shard), allocated at construction
// and outside memory_used.
//
// Memory: stats().memory_used accounts, for every entry held (values and tombstones), its key,
// its value and kEntryOverhead. Once an insert or growth has crossed the limit, entries are
// evicted before the call returns, so memory_used as published never exceeds the limit.
// One entry may take at most max_entry_bytes() = limit / 8 (charged bytes): a larger one is
// refused (kTooLarge) and changes nothing, so no single write can evict a shard's tombstones.
// Tombstones have a budget of a quarter of the limit: while the bytes charged for tombstones
// exceed it, tombstones are evicted first. Otherwise victims are the least-recently-used live
// values (approximate LRU: reads, puts and touches refresh), and tombstones are evicted only when
// no other value is left. Among tombstones, those of expired values go first (oldest first), a
// delete's last (oldest first): under TTL churn, deletes keep their protection for their grace.
//
// Cost: no allocation per call apart from the entry itself (a single malloc block per key holding
// header, key and value; an overwrite of the same size class reuses it in place) and
// PutResult::previous_value when asked for. Lookups hash the string_view key (no copy).
//
// Keys and values handed in may point anywhere, even into this store (e.g. a value just returned
// by Get). Strings handed out as string_view stay valid until the next Put, ExpireSome or
// ExpireCycle, or the next Get or Touch of the same key (so a batch of Gets of distinct keys may
// hold on to them).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "common/metrics/registry.h"
#include "common/typed/typed_value.h"
#include "node/store/store_observer.h"

namespace shoal::node {

enum class PutCondition : unsigned char { kAlways, kIfAbsent, kIfPresent };

struct PutRequest {
  std::string_view key;
  std::string_view value;
  Version version;
  // The expiry's version; zero (or anything below `version`) means the same as `version`, which
  // is what a client write carries. Whole-state writes (repair, hints, streaming) carry the pair.
  Version expiry_version;
  int64_t expire_at_ms = 0;
  bool tombstone = false;
  PutCondition condition = PutCondition::kAlways;
  bool keep_ttl = false;       // deprecated: keep the held live entry's expiry (SET KEEPTTL)
  bool want_previous = false;  // copy the previous live value into PutResult::previous_value
  // Optimistic read-modify-write (wire Put.if_version_at_most): when set, applied only if the
  // value version held (a value's or a tombstone's; nothing held is zero) is at or below it,
  // else kConditionFailed. The proxy's APPEND, SETRANGE and GETSET (docs/data-model.md).
  bool has_if_version_at_most = false;
  Version if_version_at_most;
  // Not kString: `value` is a typed body (common/typed/), possibly partial (the elements a writer
  // changed). Held at the same version (live), it is merged into the held value (typed::
  // MergeValues) and the greater expiry_version's expiry kept; a greater pair still wins whole.
  // To an absent key whose evicted-version floor refuses its pair, it is still applied when its
  // newest element is above the floor (docs/data-model.md: a typed key created from nothing has a
  // derived version, below floors that other keys of its bucket raised).
  typed::ValueType value_type = typed::ValueType::kString;
};

enum class ApplyStatus : unsigned char {
  kApplied,
  kStale,            // the held pair (or the key's evicted-version floor) is greater or equal
  kConditionFailed,  // NX/XX (or if_version_at_most) did not hold
  kTooLarge,         // the entry alone exceeds max_entry_bytes()
};

struct PutResult {
  ApplyStatus status = ApplyStatus::kApplied;
  // Pair held after the call; for kApplied, the pair written (even when the write was already
  // expired on arrival and is held as a tombstone). For a put to an absent key refused by the
  // evicted-version floor, the floor's pair (nothing is held).
  Version current;
  Version current_expiry_version;
  // A live (non-tombstone, unexpired) value was held before; a hash or set whose elements were
  // all removed is none (Redis holds no empty aggregate: DEL counts it 0).
  bool previous_found = false;
  std::string previous_value;  // only filled when want_previous
  // Of the entry held before (tombstone or expired too); zero if none.
  Version previous_version;
  Version previous_expiry_version;
  int64_t previous_expire_at_ms = 0;
};

struct FlushResult {
  bool raised = false;   // the marker grew (false: it was already at or above)
  uint64_t removed = 0;  // entries removed
};

struct GetResult {
  bool found = false;      // an entry (live value or tombstone) is held
  bool tombstone = false;  // a tombstone (an expired value reads as one)
  std::string_view value;  // empty for tombstones
  typed::ValueType value_type = typed::ValueType::kString;
  Version version;
  Version expiry_version;
  int64_t expire_at_ms = 0;  // 0 for tombstones
  // When !found: the pair of the key's evicted-version floor (zero if none). A Put of a pair at or
  // below it is refused as stale, so anti-entropy does not offer such a key (one this store
  // evicted or purged) again.
  Version floor_version;
  Version floor_expiry_version;
};

// An entry as Scan() shows it.
struct EntryView {
  std::string_view key;
  uint64_t key_hash = 0;   // KeyHash(key), the ring's tag-aware hash
  std::string_view value;  // empty for tombstones
  typed::ValueType value_type = typed::ValueType::kString;
  Version version;
  Version expiry_version;
  int64_t expire_at_ms = 0;  // 0 for tombstones
  bool tombstone = false;    // a tombstone, or an expired value (a tombstone of its pair)
  // A live hash or set with no live element (every one removed): a state to digest, repair and
  // stream like any other, but no key for SCAN, KEYS, RANDOMKEY or DBSIZE.
  bool empty_aggregate = false;
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
  bool found = false;      // a live value was held
  bool tombstone = false;  // a tombstone (or an expired value) was held
  bool applied = false;
  bool condition_failed = false;  // found, but the TouchCondition did not hold
  std::string_view value;         // when want_value and found
  typed::ValueType value_type = typed::ValueType::kString;
  Version version;                  // the value version held (a Touch never changes it)
  Version previous_expiry_version;  // held before the call (zero if nothing was held)
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

// Metrics of one store: cells written only by the owner thread, readable from any thread
// (common/metrics/cells.h). X(type, field, prometheus name, help).
#define SHOAL_NODE_STORE_METRICS(X)                                                               \
  X(Gauge, keys, "shoal_node_keys", "Entries held: live values and tombstones.")                  \
  X(Gauge, tombstones, "shoal_node_tombstones", "Tombstones held (part of shoal_node_keys).")     \
  X(Gauge, empty_aggregates, "shoal_node_empty_aggregates",                                       \
    "Hashes and sets whose elements are all removed (part of shoal_node_keys; no Redis key).")    \
  X(Gauge, memory_used, "shoal_node_memory_used_bytes",                                           \
    "Bytes charged to the stores: keys, values and per-entry overhead.")                          \
  X(Counter, evictions, "shoal_node_evictions_total",                                             \
    "Entries removed to stay under the memory limit.")                                            \
  X(Counter, expirations, "shoal_node_expirations_total",                                         \
    "Values whose TTL passed (each became a tombstone).")                                         \
  X(Counter, tombstones_purged, "shoal_node_tombstones_purged_total",                             \
    "Tombstones removed after the grace period.")                                                 \
  X(Counter, tombstones_evicted, "shoal_node_tombstones_evicted_total",                           \
    "Tombstones evicted (part of shoal_node_evictions_total; the floor keeps their pair).")       \
  X(Counter, stale_writes, "shoal_node_stale_writes_total",                                       \
    "Puts and touches refused as older than the state held (or the floor).")                      \
  X(Counter, floor_refusals, "shoal_node_floor_refusals_total",                                   \
    "Stale writes refused by the evicted-version floor (part of shoal_node_stale_writes_total).") \
  X(Counter, flushed, "shoal_node_flushed_total",                                                 \
    "Entries removed by FLUSHALL's flush marker (docs/replication.md, Flush).")                   \
  X(Counter, element_purges, "shoal_node_element_purges_total",                                   \
    "Hash and set bodies whose element tombstones past the element grace were dropped.")

struct ShardStats {
  SHOAL_NODE_STORE_METRICS(SHOAL_METRIC_FIELD)
  // Not a metric: the highest version HLC applied or seen (relaxed atomic, owner writes).
  std::atomic<uint64_t> max_hlc{0};
};

// Attaches one store's cells (owner: `stats`) to `registry`.
inline void AttachShardStats(metrics::Registry& registry, const ShardStats& stats) {
  const void* owner = &stats;
  const metrics::Labels labels;
  SHOAL_NODE_STORE_METRICS(SHOAL_METRIC_ATTACH)
}

class ShardStore {
 public:
  // Per-entry bytes charged on top of key and value: the real cost of holding an entry with
  // glibc malloc on a 64-bit machine, rounded up (see shard_store.cc for the derivation; a test
  // checks it against the allocator's own accounting):
  //   96  entry header (links, both versions, expiry, both hashes, sizes) in front of key and
  //       value, one block
  //    8  malloc chunk header
  //   15  at most, rounding the chunk up to 16 bytes
  //   16  at most, hash bucket slots (8 bytes each, 1 to 2 buckets per entry)
  static constexpr uint64_t kEntryOverhead = 136;
  // The largest entry is this fraction of the memory limit (charged bytes: key, value and
  // kEntryOverhead).
  static constexpr uint64_t kMaxEntryDivisor = 8;

  // `clock` must outlive the store. `tombstone_grace_ms` is measured on clock.MonotonicMs(); a
  // negative one counts as 0, and one whose deadline would overflow int64 keeps tombstones for
  // ever (until evicted).
  ShardStore(const Clock& clock, uint64_t memory_limit_bytes, int64_t tombstone_grace_ms);
  ~ShardStore();
  ShardStore(const ShardStore&) = delete;
  ShardStore& operator=(const ShardStore&) = delete;

  // Hash field and set member tombstones older than this (by their version's wall time) are
  // purged (see above). Defaults to the tombstone grace; negative counts as 0.
  void SetElementGrace(int64_t ms);

  // Refreshes the recency of a live value found. A dead entry found is removed (or entombed).
  GetResult Get(std::string_view key);
  PutResult Put(const PutRequest& request);
  // Sets the expiry of a live value (0 = persist) and its expiry_version to `expiry_version` if
  // that is greater than the held expiry_version. Never creates an entry, never changes the
  // value version. With a condition other than kAlways, only if the condition holds.
  TouchResult Touch(std::string_view key, Version expiry_version, int64_t expire_at_ms,
                    bool want_value, TouchCondition condition = TouchCondition::kAlways);

  // FLUSHALL: raises the flush marker to `marker` (if greater) and removes every entry whose pair
  // is below (marker, marker), reporting each removal (ChangeCause::kFlush). One pass over the
  // entries, on the caller's thread. See "Flush marker" above.
  FlushResult Flush(Version marker);
  Version flush_marker() const;

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
  // between calls. An expired value is shown as a tombstone of its pair; tombstones past their
  // grace are skipped. Nothing is removed. fn must not call into the store.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, size_t count, Fn&& fn) const {
    return ScanRange(0, UINT64_MAX, cursor, count, std::forward<Fn>(fn));
  }
  // The same, for the entries whose key_hash (the ring's KeyHash) is in [lo, hi] (inclusive;
  // lo > hi selects nothing). Cost: the traversal walks the whole table whatever the range (the
  // table is ordered by another hash), so a full traversal costs one pass over every entry of the
  // shard; `count` counts entries examined, not entries in the range, so each call does bounded
  // work even when the range is sparse.
  template <typename Fn>
  uint64_t ScanRange(uint64_t lo, uint64_t hi, uint64_t cursor, size_t count, Fn&& fn) const {
    using F = std::remove_reference_t<Fn>;
    return ScanImpl(
        lo, hi, cursor, count, [](void* f, const EntryView& e) { (*static_cast<F*>(f))(e); },
        const_cast<void*>(static_cast<const void*>(std::addressof(fn))));
  }

  // Every later state change is reported to `observer` (nullptr: none). The observer must
  // outlive its registration. See store_observer.h.
  void SetObserver(StoreObserver* observer);
  // Reports every entry held now to `observer` as a change from absent to its state
  // (ChangeCause::kPut), exactly once each, in one pass over the table: so that an observer
  // registered after the store filled (SetObserver) starts from what an observer registered
  // from the start would have summed. Entries past their grace or expired count as they are held
  // (a later purge or expiry reports the state this reported).
  void ReportHeld(StoreObserver& observer) const;

  uint64_t memory_limit() const { return memory_limit_; }
  // The largest entry accepted, in charged bytes (key + value + kEntryOverhead).
  uint64_t max_entry_bytes() const { return memory_limit_ / kMaxEntryDivisor; }
  // Buckets of the evicted-version floor (a power of two), kFloorBucketBytes each: fixed memory
  // beside the entries, outside memory_used.
  static constexpr size_t kFloorBucketBytes = 32;
  size_t floor_buckets() const;
  const ShardStats& stats() const { return stats_; }

 private:
  struct Impl;

  ExpireCycleResult ExpireCycleImpl(const ExpireCycleLimits& limits, bool (*out_of_time)(void*),
                                    void* fn);
  uint64_t ScanImpl(uint64_t lo, uint64_t hi, uint64_t cursor, size_t count,
                    void (*visit)(void*, const EntryView&), void* fn) const;

  const Clock& clock_;
  const uint64_t memory_limit_;
  const int64_t tombstone_grace_ms_;
  ShardStats stats_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shoal::node
