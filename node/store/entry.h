#pragma once

// Entry: one key held by a ShardStore. Header, key and value live in a single malloc block, so an
// entry costs exactly one allocation and the key needs no separate string.
//
//   0          8          16          24         32         40           48              56
//   +----------+----------+-----------+----------+----------+------------+---------------+
//   | lru_prev | lru_next | hash_next | hlc      | writer   | expiry_hlc | expiry_writer |
//   |          |          |           | value version       | expiry version             |
//   +----------+----------+-----------+----------+----------+------------+---------------+
//   56            64         72     76         80           84          88      89      96
//   +-------------+----------+------+----------+------------+-----------+-------+-------+
//   | deadline_ms | key_hash | hash | key_size | value_size | lru_stamp | flags | pad   |
//   +-------------+----------+------+----------+------------+-----------+-------+-------+
//   96          96 + key_size            96 + key_size + value_size
//   +-----------+------------------------+
//   | key bytes | value bytes (none for  |
//   |           | a tombstone)           |
//   +-----------+------------------------+
//
// The state's order is the pair (version, expiry_version) (docs/replication.md): `hlc`/`writer`
// is the value version, `expiry_hlc`/`expiry_writer` the expiry version (>= the value version).
//
// deadline_ms means two things: for a live value, its expiry in unix ms on the wall clock (0 =
// never); for a tombstone, when it may be purged, in ms on the store clock's monotonic reading.
//
// Two hashes of the key: `key_hash` is the ring's tag-aware 64-bit KeyHash (common/hash), which
// places the key on replicas and shards and orders range scans; `hash` is 32 bits of a hash of the
// whole key, which indexes the EntryTable (the ring hash would put every key of one {hash tag} in
// one bucket chain).
//
// The links (lru_*, hash_next) belong to the LruList and the EntryTable that hold the entry; the
// ShardStore owns the block and frees it with FreeEntry.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/clock/hlc.h"

namespace shoal::node {

struct Entry {
  static constexpr uint8_t kTombstone = 1;
  // With kTombstone: the tombstone of an expired value (not of a delete). Such tombstones are
  // evicted before a delete's.
  static constexpr uint8_t kFromExpiry = 2;
  // Bits 2-3: the value's type (typed::ValueType; 0 = string, always 0 for tombstones). A typed
  // value's bytes are its encoded body (common/typed/).
  static constexpr int kTypeShift = 2;
  static constexpr uint8_t kTypeMask = 0x0C;
  // A hash or set whose elements are all removed (typed::EmptyTyped): held (its tombstones and
  // version still merge), but no key to Redis clients (docs/data-model.md).
  static constexpr uint8_t kEmptyAggregate = 0x10;
  // A hash or set holding element tombstones (candidates for the element purge).
  static constexpr uint8_t kElementTombstones = 0x20;

  Entry* lru_prev;   // towards the most recently used end
  Entry* lru_next;   // towards the least recently used end
  Entry* hash_next;  // next entry in the same EntryTable bucket
  uint64_t hlc;
  uint64_t writer;
  uint64_t expiry_hlc;
  uint64_t expiry_writer;
  int64_t deadline_ms;
  uint64_t key_hash;  // KeyHash(key): the ring's tag-aware hash
  uint32_t hash;      // low 32 bits of XXH3(whole key); the EntryTable bucket is hash & mask
  uint32_t key_size;
  uint32_t value_size;
  uint32_t lru_stamp;  // LruList clock when last moved to the front
  uint8_t flags;

  char* key_data() { return reinterpret_cast<char*>(this + 1); }
  const char* key_data() const { return reinterpret_cast<const char*>(this + 1); }
  char* value_data() { return key_data() + key_size; }

  std::string_view key() const { return {key_data(), key_size}; }
  std::string_view value() const { return {key_data() + key_size, value_size}; }
  Version version() const { return Version{hlc, writer}; }
  Version expiry_version() const { return Version{expiry_hlc, expiry_writer}; }
  bool tombstone() const { return (flags & kTombstone) != 0; }
  bool from_expiry() const { return (flags & kFromExpiry) != 0; }
  uint8_t type() const { return static_cast<uint8_t>((flags & kTypeMask) >> kTypeShift); }
  bool empty_aggregate() const { return (flags & kEmptyAggregate) != 0; }
  bool element_tombstones() const { return (flags & kElementTombstones) != 0; }

  // Bytes of the malloc block holding an entry with these sizes.
  static size_t BlockSize(size_t key_size, size_t value_size) {
    return sizeof(Entry) + key_size + value_size;
  }
};

// The layout drawn above (kEntryOverhead in shard_store.h counts the header).
static_assert(offsetof(Entry, hlc) == 24 && offsetof(Entry, expiry_hlc) == 40);
static_assert(offsetof(Entry, deadline_ms) == 56 && offsetof(Entry, key_hash) == 64);
static_assert(offsetof(Entry, hash) == 72 && offsetof(Entry, lru_stamp) == 84);
static_assert(offsetof(Entry, flags) == 88 && sizeof(Entry) == 96);

// Allocates an uninitialised block of `bytes` (at least sizeof(Entry)) and starts an Entry's
// lifetime in it. Aborts when the allocator fails (the memory limit is there to avoid that).
Entry* AllocateEntry(size_t bytes);
void FreeEntry(Entry* entry);

// Usable bytes of the block behind `entry` (at least its BlockSize).
size_t EntryCapacity(const Entry* entry);

}  // namespace shoal::node
