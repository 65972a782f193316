#pragma once

// How a proxy's workers see the cluster's membership, which may change while they run
// (shoal-proxy --seeds follows the member table; --nodes publishes one view at start).
//
// Every node the proxy has ever routed to has a stable *slot* (one per id and address, never
// reused): workers keep their NodeLink for it and NodeHealth is shared per slot, so a ring change
// never moves a link or the health of a node that stays. A ClusterView is an immutable routing
// snapshot: the ring and each ring member's slot. Key operations hold slots, not ring indices, so
// an operation started under one view finishes correctly after the next is published.
//
// Thread rules: Publish from one thread at a time (main at start, then the membership follower);
// everything else from any thread. Workers check generation() (one relaxed atomic read) and take
// the new view (a short lock) between events.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/ring/ring.h"
#include "common/status/status.h"
#include "proxy/upstream/node_link.h"

namespace shoal::proxy {

inline constexpr int kMaxMemberSlots = 1024;

struct MemberSlot {
  std::string id;
  std::string address;
};

struct ClusterView {
  RingPtr ring;
  std::vector<int> slot_of;  // ring member index -> slot
  uint64_t generation = 0;
  // While members are JOINING (docs/membership.md, "Joining"): the ring they will form with the
  // ring's members (nullptr: none joining). A write also goes to the owners it adds under this
  // ring (not counted toward the quorum); reads use `ring` only.
  RingPtr pending_ring;
  std::vector<int> pending_slot_of;  // pending_ring member index -> slot
};
using ClusterViewPtr = std::shared_ptr<const ClusterView>;

class ClusterDirectory {
 public:
  ClusterDirectory();

  // Publishes `ring` (and `pending_ring`, the ring with the JOINING members, or nullptr) as the
  // new view, giving a slot to each (id, address) not seen before. ResourceExhausted once
  // kMaxMemberSlots slots were handed out (the view is not changed).
  Status Publish(RingPtr ring, RingPtr pending_ring = nullptr);

  ClusterViewPtr view() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Slots [0, slot_count()) are valid; their MemberSlot never changes once counted.
  int slot_count() const { return slot_count_.load(std::memory_order_acquire); }
  const MemberSlot& slot(int i) const { return slots_[i]; }
  NodeHealth& health(int i) { return health_[i]; }
  const NodeHealth& health(int i) const { return health_[i]; }

 private:
  mutable std::mutex mu_;  // guards view_ and the publishing of slots
  ClusterViewPtr view_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> slot_count_{0};
  std::unique_ptr<MemberSlot[]> slots_;
  std::unique_ptr<NodeHealth[]> health_;
};

}  // namespace shoal::proxy
