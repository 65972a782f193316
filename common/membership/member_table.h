#pragma once

// MemberTable: one process's view of the cluster's members: the gossiped record of every member
// it has heard of (this node's own included), and its own phi-accrual judgement of each.
//
// Merging (Merge) keeps, per member, the greater record by the order of member.h, so tables that
// have seen the same records hold the same ones whatever the order they came in. A record about
// this node that is newer than its own (a stale record of its previous life after a restart, or a
// Removed rumour) is refuted: the node raises its incarnation above it, and its own record wins
// everywhere once gossiped. That is how a restarted node with the same id rejoins by itself.
//
// A member is seen Down when its phi exceeds the threshold; Down is not gossiped and does not take
// a member out of the ring: only Removed does (and Joining keeps it out until it is Normal).
//
// Pure and single-threaded: the owner (the node's gossip thread, a proxy's membership follower, a
// simulation) serializes every call; time comes from the Clock (MonotonicMs).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock/clock.h"
#include "common/membership/member.h"
#include "common/membership/phi_detector.h"
#include "common/ring/ring.h"
#include "common/status/status.h"

namespace shoal {

struct GossipDigest {
  std::string id;
  MemberVersion version;
  friend bool operator==(const GossipDigest&, const GossipDigest&) = default;
};

// A member as this table sees it.
struct MemberView {
  MemberRecord record;
  MemberState state = MemberState::kJoining;  // the gossiped state, or kDown
  double phi = 0;                             // 0 for this node itself
  int64_t last_heard_ms = 0;                  // since its heartbeat last rose here (0: itself)
};

enum class MergeOutcome : uint8_t {
  kUnchanged,  // not newer than what is held
  kAdded,      // a member not known before
  kUpdated,    // a newer record of a known member
  kRefuted,    // a newer record of this node itself: its incarnation was raised above it
  kInvalid,    // refused (InvalidRecordReason)
};

class MemberTable {
 public:
  // `self` is this node's own record (its heartbeat and incarnation are raised only here);
  // `clock` must outlive the table.
  MemberTable(MemberRecord self, const PhiOptions& phi, const Clock& clock);

  const std::string& self_id() const { return self_id_; }
  const MemberRecord& self() const;

  // One gossip round of this node: its heartbeat rises.
  void Beat();
  // This node's own lifecycle: Joining -> Normal -> Leaving -> Removed, forward only (Down is
  // not a state a node gives itself).
  Status SetSelfState(MemberState state);

  // Merges one record learned from a peer (see the class comment).
  MergeOutcome Merge(const MemberRecord& record);

  // Asserts that another member is gone for good (an operator's removal, --dead-after): its
  // record turns Removed at its current incarnation. NotFound for an unknown id, InvalidArgument
  // for this node itself.
  Status MarkRemoved(std::string_view id);

  size_t size() const { return entries_.size(); }
  const MemberRecord* Find(std::string_view id) const;
  // Every member's digest, sorted by id (this node's own included).
  std::vector<GossipDigest> Digests() const;
  // Every record, sorted by id.
  std::vector<MemberRecord> Records() const;
  // The same without copies: valid until the table next changes.
  std::vector<const MemberRecord*> RecordPointers() const;

  // As this node sees the member now (kRemoved for an unknown id).
  MemberState StateOf(std::string_view id) const;
  double PhiOf(std::string_view id) const;
  std::vector<MemberView> Views() const;
  // Every record with the state this node sees, sorted by id, without copies: the pointers are
  // valid until the table next changes.
  std::vector<std::pair<const MemberRecord*, MemberState>> SeenStates() const;

  // The ring's members: every member neither Joining nor Removed (Down ones included), sorted by
  // id. Ring::Build(RingMembers(), tokens) routes as Ring::Build of the same ids from --nodes.
  std::vector<RingMember> RingMembers() const;
  // Rises whenever RingMembers() changes (a member enters or leaves the ring, or its address or
  // zone changes).
  uint64_t ring_generation() const { return ring_generation_; }

  double phi_threshold() const { return phi_options_.threshold; }

 private:
  struct Entry {
    MemberRecord record;
    PhiAccrualDetector detector;
  };
  static bool InRing(const MemberRecord& r) {
    return r.state == MemberState::kNormal || r.state == MemberState::kLeaving;
  }

  std::string self_id_;
  PhiOptions phi_options_;
  const Clock& clock_;
  std::map<std::string, Entry, std::less<>> entries_;
  uint64_t ring_generation_ = 1;
};

}  // namespace shoal
