#include "node/store/entry_table.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace shoal::node {
namespace {

uint64_t ReverseBits(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
  v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
  return __builtin_bswap64(v);
}

}  // namespace

EntryTable::EntryTable() : buckets_(new Entry*[kMinBuckets]()), mask_(kMinBuckets - 1) {}

EntryTable::~EntryTable() = default;

void EntryTable::Insert(Entry* e) {
  if (size_ >= bucket_count()) Rehash(bucket_count() * 2);
  Entry*& head = buckets_[e->hash & mask_];
  e->hash_next = head;
  head = e;
  ++size_;
}

void EntryTable::Remove(Entry* e) {
  Entry** link = &buckets_[e->hash & mask_];
  while (*link != e) {
    assert(*link != nullptr && "removing an entry the table does not hold");
    link = &(*link)->hash_next;
  }
  *link = e->hash_next;
  --size_;
}

void EntryTable::Replace(Entry* e, Entry* replacement) {
  Entry** link = &buckets_[e->hash & mask_];
  while (*link != e) {
    assert(*link != nullptr && "replacing an entry the table does not hold");
    link = &(*link)->hash_next;
  }
  replacement->hash_next = e->hash_next;
  *link = replacement;
}

bool EntryTable::MaybeShrink() {
  if (bucket_count() <= kMinBuckets || size_ * 4 >= bucket_count()) return false;
  Rehash(std::max(kMinBuckets, std::bit_ceil(size_)));
  return true;
}

uint64_t EntryTable::NextCursor(uint64_t cursor) const {
  // Increment the bits under the mask in reverse order, so that a cursor stays meaningful when
  // the mask gains or loses high bits.
  cursor |= ~mask_;
  cursor = ReverseBits(cursor);
  ++cursor;
  return ReverseBits(cursor);
}

void EntryTable::Rehash(size_t bucket_count) {
  std::unique_ptr<Entry*[]> buckets(new Entry*[bucket_count]());
  const uint64_t mask = bucket_count - 1;
  for (size_t i = 0; i <= mask_; ++i) {
    for (Entry* e = buckets_[i]; e != nullptr;) {
      Entry* next = e->hash_next;
      Entry*& head = buckets[e->hash & mask];
      e->hash_next = head;
      head = e;
      e = next;
    }
  }
  buckets_ = std::move(buckets);
  mask_ = mask;
}

}  // namespace shoal::node
