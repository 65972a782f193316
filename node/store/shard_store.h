#pragma once

// ShardStore: the in-memory data of one shard of a node. Owned by exactly one thread (the shard's
// event loop); no method is thread-safe, except that stats() may be read from any thread.
//
// Semantics:
//  - Every entry carries a Version; last writer wins. A Put or Touch whose version is not newer
//    than the held entry's is not applied, whatever order replicas receive writes in.
//  - Deletes are Puts with tombstone=true: the tombstone keeps its version so an older value that
//    a repair or a hint brings back cannot resurrect the key. Tombstones are purged once older
//    than the grace period (measured on the store's clock from when they were written).
//  - TTL: expire_at_ms is absolute unix ms (0 = never). An entry whose expiry has passed is dead:
//    reads see it as absent, it is removed lazily on access and actively by ExpireSome().
//  - Memory: used_bytes() accounts key, value and a fixed per-entry overhead. Before an insert
//    or growth would cross the limit, least-recently-used entries are evicted (approximate LRU).
//    An entry larger than the limit on its own is refused (kTooLarge).
//
// Values handed out as string_view stay valid until the next mutating call on this store.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

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
  Version current;              // version held after the call
  bool previous_found = false;  // a live (non-tombstone, unexpired) value was held before
  std::string previous_value;   // only filled when want_previous
  Version previous_version;  // of the entry held before (a tombstone too); zero if none/expired
  int64_t previous_expire_at_ms = 0;
};

struct GetResult {
  bool found = false;  // an entry (live value or tombstone) is held
  bool tombstone = false;
  std::string_view value;  // empty for tombstones
  Version version;
  int64_t expire_at_ms = 0;
};

struct TouchResult {
  bool found = false;  // a live value was held
  bool applied = false;
  std::string_view value;  // when want_value and found
  Version version;         // held after the call
  int64_t previous_expire_at_ms = 0;
};

// Counters, written only by the owner thread, readable from any thread (relaxed atomics).
struct ShardStats {
  std::atomic<uint64_t> keys{0};          // live values + tombstones held
  std::atomic<uint64_t> tombstones{0};
  std::atomic<uint64_t> memory_used{0};
  std::atomic<uint64_t> evictions{0};
  std::atomic<uint64_t> expirations{0};   // entries removed because their TTL passed
  std::atomic<uint64_t> tombstones_purged{0};
  std::atomic<uint64_t> stale_writes{0};  // puts/touches refused as older than held
  std::atomic<uint64_t> max_hlc{0};       // highest version HLC applied or seen
};

class ShardStore {
 public:
  // Per-entry bytes charged on top of key and value (hash node, entry header, LRU links,
  // allocator rounding). Conservative, so that resident memory tracks the limit.
  static constexpr uint64_t kEntryOverhead = 96;

  ShardStore(const Clock& clock, uint64_t memory_limit_bytes, int64_t tombstone_grace_ms);
  ~ShardStore();
  ShardStore(const ShardStore&) = delete;
  ShardStore& operator=(const ShardStore&) = delete;

  GetResult Get(std::string_view key);
  PutResult Put(const PutRequest& request);
  TouchResult Touch(std::string_view key, Version version, int64_t expire_at_ms, bool want_value);

  // Active expiry: examines at most `budget` entries, removing expired ones and tombstones past
  // the grace period. Returns the number removed. Call periodically from the owner thread.
  size_t ExpireSome(size_t budget);

  uint64_t memory_limit() const { return memory_limit_; }
  const ShardStats& stats() const { return stats_; }

 private:
  struct Impl;
  const Clock& clock_;
  const uint64_t memory_limit_;
  const int64_t tombstone_grace_ms_;
  ShardStats stats_;
  Impl* impl_;
};

}  // namespace shoal::node
