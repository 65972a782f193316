#pragma once

// EntryTable: the index of a ShardStore, an intrusive chained hash table of entries keyed by their
// key. Entries are linked through Entry::hash_next and owned by the caller; the table owns only
// its bucket array (one pointer per bucket, a power of two of them). Not thread-safe.
//
// The table grows (doubling, a full rehash) when it holds more entries than buckets, so it costs
// 8 to 16 bytes per entry. It shrinks only when asked (MaybeShrink), never inside Remove, so that a
// caller walking a bucket may remove the entry it is looking at.
//
// Traversal uses a reverse-binary cursor (the algorithm of Redis' dictScan): start at 0, pass each
// returned cursor back, stop when it comes back as 0. Every entry present for the whole traversal
// is visited at least once even if the table grows or shrinks between calls (some may be visited
// twice after a shrink).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "node/store/entry.h"

namespace shoal::node {

class EntryTable {
 public:
  EntryTable();
  ~EntryTable();  // does not free the entries
  EntryTable(const EntryTable&) = delete;
  EntryTable& operator=(const EntryTable&) = delete;

  // The entry with this key (whose hash is `hash`), or nullptr.
  Entry* Find(std::string_view key, uint32_t hash) const {
    for (Entry* e = buckets_[hash & mask_]; e != nullptr; e = e->hash_next) {
      if (e->hash == hash && e->key() == key) return e;
    }
    return nullptr;
  }

  // Adds `e` (e->hash and its key set; no entry with that key present). May rehash.
  void Insert(Entry* e);
  // Unlinks `e`, which must be present.
  void Remove(Entry* e);
  // Puts `replacement` (same key and hash) in the place of `e`, which must be present.
  void Replace(Entry* e, Entry* replacement);
  // When there are more than four buckets per entry, rehashes to the smallest power of two that
  // is at least the entry count (and 16). Returns whether it rehashed.
  bool MaybeShrink();

  // Calls fn(Entry*) for each entry of the bucket `cursor` designates; fn may remove (and free) the
  // entry it is given, nothing else. Returns the number of entries visited; NextCursor gives the
  // cursor to continue from.
  template <typename Fn>
  size_t VisitBucket(uint64_t cursor, Fn&& fn) const {
    size_t visited = 0;
    for (Entry* e = buckets_[cursor & mask_]; e != nullptr;) {
      Entry* next = e->hash_next;
      fn(e);
      ++visited;
      e = next;
    }
    return visited;
  }
  uint64_t NextCursor(uint64_t cursor) const;

  size_t size() const { return size_; }
  size_t bucket_count() const { return mask_ + 1; }

 private:
  static constexpr size_t kMinBuckets = 16;

  void Rehash(size_t bucket_count);

  std::unique_ptr<Entry*[]> buckets_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace shoal::node
