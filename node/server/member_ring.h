#pragma once

// MemberRing: the members a clustered node repairs with, as a ring snapshot that can be replaced
// while the node runs (docs/membership.md, "What a node repairs with").
//
// With --nodes it is that ring, for ever. With --seeds it is the ring formed by every member of
// the gossiped table that is not REMOVED (JOINING ones included: a hint or a summary for a node
// about to own keys is good to have), and GossipService replaces it (Update) as the table
// changes. Everything on the node that names peers reads it: the start-up sync (which peers to
// pull from), the acceptance of anti-entropy requests (a peer must be a member), the anti-entropy
// thread's peers, each shard's per-peer digests (rebuilt when the generation rises), the hint
// targets accepted and the addresses hints are replayed to.
//
// Readers poll generation() (one relaxed atomic read) and take Current() when it changed, as the
// proxy's workers do with their ClusterView. A snapshot stays valid for as long as it is held.
//
// Thread rules: Current and generation from any thread; Update from one thread at a time (the
// gossip thread).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/ring/ring.h"

namespace shoal::node {

struct RingSnapshot {
  RingPtr ring;             // never null
  int self = -1;            // this node's index in ring->members() (always >= 0)
  uint64_t generation = 0;  // rises with every replacement
};
using RingSnapshotPtr = std::shared_ptr<const RingSnapshot>;

class MemberRing {
 public:
  // `initial` must hold `self_id`.
  MemberRing(std::string self_id, int tokens_per_node, RingPtr initial);

  RingSnapshotPtr Current() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Replaces the ring with the one `members` form (sorted by id, as common/membership's
  // MembersOf gives them). False, and nothing changes, when they are the current members (same
  // ids, addresses and zones), when this node is not among them (a node decommissioned keeps
  // repairing with its last ring until it stops), or when no ring can be built from them.
  bool Update(const std::vector<RingMember>& members);

 private:
  const std::string self_id_;
  const int tokens_per_node_;
  mutable std::mutex mu_;  // guards current_
  RingSnapshotPtr current_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace shoal::node
