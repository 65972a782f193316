#include "node/store/entry_table.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace shoal::node {
namespace {

uint64_t ReverseBits(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
  v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
  return __builtin_bswap64(v);
}

constexpr size_t kAll = std::numeric_limits<size_t>::max();

}  // namespace

void EntryTable::FreeSlots::operator()(Entry** slots) const { std::free(slots); }

Entry** EntryTable::AllocateSlots(size_t count) {
  void* slots = std::calloc(count, sizeof(Entry*));
  if (slots == nullptr) {
    std::fprintf(stderr, "out of memory allocating %zu hash buckets\n", count);
    std::abort();
  }
  return static_cast<Entry**>(slots);
}

EntryTable::EntryTable() {
  table_.slots.reset(AllocateSlots(kMinBuckets));
  table_.mask = kMinBuckets - 1;
}

EntryTable::~EntryTable() = default;

void EntryTable::Insert(Entry* e) {
  if (resizing()) MoveBuckets(2, kInsertRehashEntries * kEmptyBucketsPerEntry);
  // Grow at 1.5 entries per bucket.
  if (2 * size_ >= 3 * bucket_count()) {
    // Two buckets per insert end any resize before its new array reaches this load (a shrink
    // starts at under half of it); finishing here is only a safety net.
    if (resizing()) MoveBuckets(kAll, kAll);
    StartResize(bucket_count() * 2);
  }
  Entry** head = Head(e->hash);
  e->hash_next = *head;
  *head = e;
  ++size_;
}

Entry** EntryTable::LinkTo(Entry* e) {
  Entry** link = Head(e->hash);
  while (*link != e) {
    assert(*link != nullptr && "an entry the table does not hold");
    link = &(*link)->hash_next;
  }
  return link;
}

void EntryTable::Remove(Entry* e) {
  Entry** link = LinkTo(e);
  *link = e->hash_next;
  --size_;
}

void EntryTable::Replace(Entry* e, Entry* replacement) {
  Entry** link = LinkTo(e);
  replacement->hash_next = e->hash_next;
  *link = replacement;
}

bool EntryTable::MaybeShrink() {
  if (resizing() || bucket_count() <= kMinBuckets || size_ * 4 >= bucket_count()) return false;
  StartResize(bucket_count() / 2);
  return true;
}

size_t EntryTable::RehashSome(size_t max_entries) {
  if (!resizing()) return 0;
  const size_t budget =
      max_entries > kAll / kEmptyBucketsPerEntry ? kAll : max_entries * kEmptyBucketsPerEntry;
  return MoveBuckets(1, budget);
}

uint64_t EntryTable::NextCursor(uint64_t cursor) const {
  // Increment the bits under the (smaller) mask in reverse order, so that a cursor stays
  // meaningful when the mask gains or loses high bits.
  const uint64_t mask = resizing() ? std::min(old_.mask, table_.mask) : table_.mask;
  cursor |= ~mask;
  cursor = ReverseBits(cursor);
  ++cursor;
  return ReverseBits(cursor);
}

void EntryTable::StartResize(size_t bucket_count) {
  assert(!resizing());
  old_ = std::move(table_);
  table_.slots.reset(AllocateSlots(bucket_count));
  table_.mask = bucket_count - 1;
  rehash_index_ = 0;
}

size_t EntryTable::MoveBuckets(size_t min_buckets, size_t budget) {
  size_t buckets = 0;
  size_t spent = 0;
  size_t moved = 0;
  while (resizing() && (buckets < min_buckets || spent < budget)) {
    Entry* e = old_.slots[rehash_index_];
    old_.slots[rehash_index_] = nullptr;
    if (e == nullptr) ++spent;
    while (e != nullptr) {
      Entry* next = e->hash_next;
      Entry*& head = table_.slots[e->hash & table_.mask];
      e->hash_next = head;
      head = e;
      ++moved;
      spent += kEmptyBucketsPerEntry;
      e = next;
    }
    ++buckets;
    if (++rehash_index_ > old_.mask) {
      old_.slots.reset();
      old_.mask = 0;
      rehash_index_ = 0;
    }
  }
  entries_moved_ += moved;
  return moved;
}

}  // namespace shoal::node
