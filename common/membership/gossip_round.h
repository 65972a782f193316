#pragma once

// One push-pull gossip exchange between an initiator A and a peer B, as pure functions of their
// member tables (the node's gossip thread and the simulation in tools/sim/ run exactly these):
//
//   A: syn  = MakeSyn(table_a)                 digests of every member A knows
//   B: ack  = HandleSyn(table_b, syn)          records B holds newer (or A lacks) + ids A has newer
//   A: ack2 = HandleAck(table_a, ack)          merges them; the records B asked for
//   B:        HandleAck2(table_b, ack2)        merges those
//
// After a complete exchange both hold, for every member either knew, the newer record. Any of the
// three messages may be lost: each merge stands on its own, so a partial exchange only learns less.
// Wire forms: gossip_wire.h.

#include <random>
#include <string>
#include <vector>

#include "common/membership/member_table.h"

namespace shoal {

struct GossipSynMessage {
  std::vector<GossipDigest> digests;
};

struct GossipAckMessage {
  std::vector<MemberRecord> members;
  std::vector<std::string> wanted;
};

struct GossipAck2Message {
  std::vector<MemberRecord> members;
};

// What merging a message changed (for logs and counters).
struct MergeCounts {
  int added = 0;
  int updated = 0;
  int refuted = 0;
  int invalid = 0;
  void Add(MergeOutcome outcome);
};

GossipSynMessage MakeSyn(const MemberTable& table);
GossipAckMessage HandleSyn(const MemberTable& table, const GossipSynMessage& syn);
GossipAck2Message HandleAck(MemberTable& table, const GossipAckMessage& ack,
                            MergeCounts* counts = nullptr);
void HandleAck2(MemberTable& table, const GossipAck2Message& ack2, MergeCounts* counts = nullptr);

// The addresses one round of `table`'s owner gossips with (Cassandra's choice):
//   - one member seen alive (not Down, not Removed, not itself), chosen at random;
//   - with probability down / (alive + 1), one member seen Down (so a recovery is noticed);
//   - a seed when no member is seen alive, or, when the alive one chosen is not a seed or fewer
//     members are alive than there are seeds, with probability seeds / (alive + down) (so that
//     partitions heal through the seeds, even when every node is a seed).
// `seeds` are HOST:PORT strings; this node's own address is never chosen. No duplicates.
std::vector<std::string> ChooseGossipTargets(const MemberTable& table,
                                             const std::vector<std::string>& seeds,
                                             std::mt19937_64& rng);

}  // namespace shoal
