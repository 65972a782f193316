#pragma once

// EntryTable: the index of a ShardStore, an intrusive chained hash table of entries keyed by their
// key. Entries are linked through Entry::hash_next and owned by the caller; the table owns only
// its bucket arrays (one pointer per bucket, a power of two of them). Not thread-safe.
//
// Resizing is incremental, so that no single call pays for moving the whole table (a full rehash
// of 4M entries took ~290 ms on the shard's loop thread). A resize allocates the new bucket array
// and then moves the old buckets over a few at a time, in index order:
//
//   old:  [ moved (empty) ... | rehash_index_ -> not moved yet ... ]
//   new:  [ entries of moved old buckets, and entries inserted since ]
//
// An entry whose hash falls in an old bucket not yet moved lives there (inserts included);
// otherwise it lives in the new array. Every entry is therefore in exactly one place that Find,
// Remove and Replace compute directly (one bucket walk, as without a resize).
//
//  - Growth: when the entries reach 1.5 per bucket, a resize to twice as many buckets starts.
//    Each Insert moves at least two old buckets (and a few more if they are empty), so the resize
//    ends within half as many inserts as there were buckets, long before the new array fills.
//    At its peak (old B + new 2B pointers, 1.5B entries) the table costs 16 bytes per entry.
//  - Shrinking: only when asked (MaybeShrink), never inside Remove, so that a caller walking a
//    bucket may remove the entry it is looking at; halves the bucket count per resize.
//  - RehashSome moves buckets on request (ShardStore::ExpireSome calls it), so that a resize
//    finishes even while no entries are inserted. Find, Remove, Replace and VisitBucket never
//    move anything.
//
// Traversal uses a reverse-binary cursor (the algorithm of Redis' dictScan): start at 0, pass each
// returned cursor back, stop when it comes back as 0. During a resize a cursor designates a
// bucket of the smaller array together with the buckets of the larger array that split from it.
// Every entry present for the whole traversal is visited at least once even if the table resizes
// (or moves buckets) between calls (some may be visited twice after a shrink).

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
    for (Entry* e = *Head(hash); e != nullptr; e = e->hash_next) {
      if (e->hash == hash && e->key() == key) return e;
    }
    return nullptr;
  }

  // Adds `e` (e->hash and its key set; no entry with that key present). May start a resize, and
  // moves a few buckets of one in progress (at least two buckets; about kInsertRehashEntries
  // entries, more only when a bucket's chain is longer).
  void Insert(Entry* e);
  // Unlinks `e`, which must be present.
  void Remove(Entry* e);
  // Puts `replacement` (same key and hash) in the place of `e`, which must be present.
  void Replace(Entry* e, Entry* replacement);
  // When there are more than four buckets per entry and no resize is in progress, starts one to
  // half as many buckets (not below 16). Returns whether it started one.
  bool MaybeShrink();
  // Moves buckets of a resize in progress: about `max_entries` entries, where crossing
  // kEmptyBucketsPerEntry empty buckets counts as one entry (at least one bucket; a bucket is
  // moved whole). Returns the number of entries moved.
  size_t RehashSome(size_t max_entries);

  // Calls fn(Entry*) for each entry of the bucket(s) `cursor` designates; fn may remove (and free)
  // the entry it is given, or Replace it, nothing else. Returns the number of entries visited;
  // NextCursor gives the cursor to continue from.
  template <typename Fn>
  size_t VisitBucket(uint64_t cursor, Fn&& fn) const {
    if (old_.slots == nullptr) return VisitChain(table_.slots[cursor & table_.mask], fn);
    const Buckets& small = old_.mask < table_.mask ? old_ : table_;
    const Buckets& large = old_.mask < table_.mask ? table_ : old_;
    size_t visited = VisitChain(small.slots[cursor & small.mask], fn);
    for (uint64_t i = cursor & small.mask; i <= large.mask; i += small.mask + 1) {
      visited += VisitChain(large.slots[i], fn);
    }
    return visited;
  }
  uint64_t NextCursor(uint64_t cursor) const;

  size_t size() const { return size_; }
  // Buckets of the array being filled (the new one during a resize).
  size_t bucket_count() const { return table_.mask + 1; }
  bool resizing() const { return old_.slots != nullptr; }
  // Bucket pointers allocated, both arrays during a resize.
  size_t slot_count() const { return bucket_count() + (resizing() ? old_.mask + 1 : 0); }
  // Entries moved by resizes so far (tests count work with it).
  uint64_t entries_moved() const { return entries_moved_; }

  static constexpr size_t kMinBuckets = 16;
  static constexpr size_t kInsertRehashEntries = 4;
  static constexpr size_t kEmptyBucketsPerEntry = 32;
  // The most bucket pointers the table holds per entry while only inserting (see Growth above);
  // ShardStore::kEntryOverhead counts them.
  static constexpr size_t kMaxSlotsPerEntryWhileGrowing = 2;

 private:
  struct FreeSlots {
    void operator()(Entry** slots) const;
  };
  struct Buckets {
    // calloc'd: a large array comes zeroed from mmap, so its pages are faulted in as buckets are
    // first used, spread over the resize, instead of all inside the Insert that starts it.
    std::unique_ptr<Entry*[], FreeSlots> slots;
    uint64_t mask = 0;
  };
  static Entry** AllocateSlots(size_t count);

  // The bucket that holds (or would hold) an entry with this hash.
  Entry* const* Head(uint32_t hash) const {
    if (old_.slots != nullptr) {
      const uint64_t i = hash & old_.mask;
      if (i >= rehash_index_) return &old_.slots[i];
    }
    return &table_.slots[hash & table_.mask];
  }
  Entry** Head(uint32_t hash) {
    return const_cast<Entry**>(static_cast<const EntryTable*>(this)->Head(hash));
  }
  Entry** LinkTo(Entry* e);

  template <typename Fn>
  static size_t VisitChain(Entry* e, Fn& fn) {
    size_t visited = 0;
    while (e != nullptr) {
      Entry* next = e->hash_next;  // fn may unlink or free e
      fn(e);
      ++visited;
      e = next;
    }
    return visited;
  }

  void StartResize(size_t bucket_count);
  // Moves old buckets until at least `min_buckets` are moved and `budget` (entries moved times
  // kEmptyBucketsPerEntry, plus empty buckets) is spent, or the resize ends.
  size_t MoveBuckets(size_t min_buckets, size_t budget);

  Buckets table_;              // the array being filled
  Buckets old_;                // during a resize, the array being emptied; else no slots
  uint64_t rehash_index_ = 0;  // old buckets below this have been moved
  size_t size_ = 0;
  uint64_t entries_moved_ = 0;
};

}  // namespace shoal::node
