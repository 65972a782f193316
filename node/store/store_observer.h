#pragma once

// StoreObserver: told of every change of a key's state in a ShardStore, for per-range digests
// (anti-entropy) and anything else that must follow the store without scanning it.
//
// A key's state is what docs/replication.md orders: present or not, tombstone or value, and the
// pair (version, expiry_version). Every path that changes it reports exactly one call per change,
// with the state held before and after:
//   kPut       a Put applied (over nothing, a value, a tombstone, or a dead entry it replaces)
//   kTouch     a Touch applied (expiry_version changes, version never does)
//   kExpiry    an expired value became a tombstone of its pair (the pair does not change: a digest
//              that hashes the pair only, as it should, sees no difference)
//   kPurge     a tombstone past its grace period was removed
//   kEviction  an entry (value, expired value or tombstone) was removed to stay under the limit
//   kFlush     an entry older than a flush marker was removed (ShardStore::Flush)
// Removals (kPurge, kEviction, kFlush) have `after.present == false`; the store's evicted-version
// floor then remembers the pair (ShardStore: "What eviction remembers").
//
// Called on the store's owner thread, synchronously, inside the store call that makes the change;
// the observer must not call into the store, and `key` is valid only during the call.

#include <cstdint>
#include <string_view>

#include "common/clock/hlc.h"

namespace shoal::node {

struct KeyState {
  bool present = false;    // an entry (value or tombstone) is held
  bool tombstone = false;  // (present only) a tombstone, of a delete or of an expired value
  Version version;         // zero when absent
  Version expiry_version;  // zero when absent; >= version otherwise
  // A live typed value's typed::BodyDigest (0 for strings and tombstones): two replicas of the
  // same pair whose bodies differ (a counter component one of them missed) differ in digests.
  uint64_t body_digest = 0;
};

enum class ChangeCause : unsigned char { kPut, kTouch, kExpiry, kPurge, kEviction, kFlush };

class StoreObserver {
 public:
  virtual ~StoreObserver() = default;
  virtual void OnChange(uint64_t key_hash, std::string_view key, const KeyState& before,
                        const KeyState& after, ChangeCause cause) = 0;
};

}  // namespace shoal::node
