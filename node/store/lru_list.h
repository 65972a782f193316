#pragma once

// LruList: an intrusive doubly linked list of entries (through Entry::lru_prev/lru_next), most
// recently used at the front. It does not own the entries. Not thread-safe.
//
// Refresh() is approximate on purpose: every PushFront stamps the entry with a counter, and the
// entries in front of an entry are at most (counter - its stamp), so an entry whose stamp is that
// recent is already in the most recent quarter of the list and is left where it is. Hot keys then
// cost no writes to their neighbours; an entry is still never evicted before the three quarters
// of the list behind it. (A stamp that wraps after 2^32 pushes may skip one refresh.)

#include <cstddef>
#include <cstdint>

#include "node/store/entry.h"

namespace shoal::node {

class LruList {
 public:
  LruList() = default;
  LruList(const LruList&) = delete;
  LruList& operator=(const LruList&) = delete;

  void PushFront(Entry* e) {
    e->lru_prev = nullptr;
    e->lru_next = head_;
    if (head_ != nullptr) {
      head_->lru_prev = e;
    } else {
      tail_ = e;
    }
    head_ = e;
    e->lru_stamp = ++clock_;
    ++size_;
  }

  void Remove(Entry* e) {
    (e->lru_prev != nullptr ? e->lru_prev->lru_next : head_) = e->lru_next;
    (e->lru_next != nullptr ? e->lru_next->lru_prev : tail_) = e->lru_prev;
    --size_;
  }

  // Marks `e` (held by this list) as just used.
  void Refresh(Entry* e) {
    if (clock_ - e->lru_stamp < size_ / 4) return;
    Remove(e);
    PushFront(e);
  }

  // The least recently used entry, or nullptr.
  Entry* back() const { return tail_; }
  Entry* front() const { return head_; }
  // The entry used just after `e` (towards the front), or nullptr.
  static Entry* Newer(const Entry* e) { return e->lru_prev; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  size_t size_ = 0;
  uint32_t clock_ = 0;
};

}  // namespace shoal::node
