#pragma once

// Entry: one key held by a ShardStore. Header, key and value live in a single malloc block, so an
// entry costs exactly one allocation and the key needs no separate string.
//
//   0          8          16         24    32           40       44     48       52         56
//   +----------+----------+----------+-----+------------+--------+------+--------+----------+
//   | lru_prev | lru_next | hash_next| hlc | deadline_ms| writer | hash | key    | value    |
//   |          |          |          |     |            |        |      | _size  | _size    |
//   +----------+----------+----------+-----+------------+--------+------+--------+----------+
//   56         60      61    64          64 + key_size            64 + key_size + value_size
//   +----------+-------+-----+-----------+------------------------+
//   | lru_stamp| flags | pad | key bytes | value bytes (none for  |
//   |          |       |     |           | a tombstone)           |
//   +----------+-------+-----+-----------+------------------------+
//
// deadline_ms means two things: for a live value, its expiry in unix ms on the wall clock (0 =
// never); for a tombstone, when it may be purged, in ms on the store clock's monotonic reading.
//
// The links (lru_*, hash_next) belong to the LruList and the EntryTable that hold the entry; the
// ShardStore owns the block and frees it with FreeEntry.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/clock/hlc.h"

namespace shoal::node {

struct Entry {
  static constexpr uint8_t kTombstone = 1;

  Entry* lru_prev;   // towards the most recently used end
  Entry* lru_next;   // towards the least recently used end
  Entry* hash_next;  // next entry in the same hash bucket
  uint64_t hlc;
  int64_t deadline_ms;
  uint32_t writer;
  uint32_t hash;  // low 32 bits of the key's hash; the bucket index is hash & mask
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
  bool tombstone() const { return (flags & kTombstone) != 0; }

  // Bytes of the malloc block holding an entry with these sizes.
  static size_t BlockSize(size_t key_size, size_t value_size) {
    return sizeof(Entry) + key_size + value_size;
  }
};

static_assert(sizeof(Entry) == 64, "keep the entry header one cache line");

// Allocates an uninitialised block of `bytes` (at least sizeof(Entry)) and starts an Entry's
// lifetime in it. Aborts when the allocator fails (the memory limit is there to avoid that).
Entry* AllocateEntry(size_t bytes);
void FreeEntry(Entry* entry);

// Usable bytes of the block behind `entry` (at least its BlockSize).
size_t EntryCapacity(const Entry* entry);

}  // namespace shoal::node
