#pragma once

// KnownFlushMark: the greatest FLUSHALL marker this proxy knows (docs/replication.md, "Flush"):
// from its own FLUSHALLs' FlushResponses and from every node's HelloResponse. The node links
// offer it to each node, in their Hello and, when it grows after the Hello, as an unwatched
// FlushRequest (NodeLink::TeachFlushMark), so that a node that missed a FLUSHALL (stopped, or
// standalone without peers to learn it from) drops its flushed data as soon as a proxy reaches it.
//
// Thread-safe: shared by every worker's links. Offer and Get take a mutex (rare: handshakes,
// FLUSHALL replies); generation() is a relaxed load each link polls on its worker's tick.

#include <atomic>
#include <cstdint>
#include <mutex>

#include "common/clock/hlc.h"

namespace shoal::proxy {

class KnownFlushMark {
 public:
  // Raises the mark to `v` if `v` is greater; returns whether it did.
  bool Offer(Version v) {
    std::lock_guard<std::mutex> lock(mu_);
    if (v <= mark_) return false;
    mark_ = v;
    generation_.fetch_add(1, std::memory_order_release);
    return true;
  }

  Version Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return mark_;
  }

  // Grows with every raise: a link that saw this generation need not call Get() again.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  Version mark_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace shoal::proxy
