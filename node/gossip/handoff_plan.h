#pragma once

// What a node does, on a ring change, with one key it holds (docs/membership.md, "Losing,
// removing and adding nodes"): the pure part of Rebalancer::HandOff, unit-tested on its own.
//
// For a key whose preference list under `before` held this node, each owner `after` adds (one
// that was not an owner under `before`) gets the key:
//  - streamed (Merkle-guided, the pair this node shares with it) when this node still owns it;
//  - from another previous owner's stream when this node no longer owns it but one of the others
//    does (nothing to do here);
//  - copied whole from here when no previous owner still owns it (N or more members added at
//    once), and always when `merkle` is false (a decommission, a last attempt).
// Any thread (reads the immutable rings only).

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/ring/ring.h"

namespace shoal::node {

struct KeyMoves {
  std::vector<int> stream;  // members of `after` (indices) to stream the pair to
  std::vector<int> copy;    // members of `after` (indices) to copy the key to whole
};

// Fills *out (cleared first) for the key of hash `key_hash`; `self_id` is this node, `n` the
// preference-list length.
void PlanKeyMoves(const Ring& before, const Ring& after, std::string_view self_id, int n,
                  uint64_t key_hash, bool merkle, KeyMoves* out);

}  // namespace shoal::node
