#pragma once

// One member of a Shoal cluster as the gossip carries it, and the order that merges records.
//
// A record's version is (incarnation, state, heartbeat), compared lexicographically, states in
// the order of MemberState (a member only moves forward within one incarnation: Joining, Normal,
// Leaving, Removed). When two records of one member meet, the greater wins whole; records of equal
// version that differ otherwise (which only a misconfiguration produces: two processes with one
// id) are ordered by their remaining fields, so merging is a max over a total order: commutative,
// associative and idempotent, and every node that has seen the same records holds the same one.
//
// Only the member itself raises its incarnation (on restart, and to refute a rumour) and its
// heartbeat (every gossip round). Another node may only assert Removed at the member's current
// incarnation; a live member that hears it refutes it with a higher incarnation (MemberTable).
// Down is never gossiped: it is each holder's own phi-accrual judgement.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal {

enum class MemberState : uint8_t {
  kJoining = 0,
  kNormal = 1,
  kLeaving = 2,
  kDown = 3,  // a holder's judgement only, never in a gossiped record
  kRemoved = 4,
};

// "JOINING", "NORMAL", "LEAVING", "DOWN", "REMOVED".
const char* MemberStateName(MemberState state);

struct MemberVersion {
  uint64_t incarnation = 0;
  MemberState state = MemberState::kJoining;
  uint64_t heartbeat = 0;

  friend auto operator<=>(const MemberVersion&, const MemberVersion&) = default;
  friend bool operator==(const MemberVersion&, const MemberVersion&) = default;
};

struct MemberRecord {
  std::string id;       // stable identity: the ring tokens are xxh3(id, i), i < tokens
  std::string address;  // HOST:PORT of its node protocol listener
  std::string zone;     // empty: none
  MemberState state = MemberState::kJoining;
  uint64_t incarnation = 0;
  uint64_t heartbeat = 0;
  uint32_t tokens = 0;  // virtual-node tokens (--tokens-per-node of the member)

  MemberVersion version() const { return {incarnation, state, heartbeat}; }

  friend bool operator==(const MemberRecord&, const MemberRecord&) = default;
};

// The merge order: true when `a` should replace `b` (records of one member).
bool Supersedes(const MemberRecord& a, const MemberRecord& b);

// Why a record cannot be accepted from a peer, or empty when it can: an empty id, an address
// that is not HOST:PORT, state Down (never gossiped) or out of range, no tokens.
std::string InvalidRecordReason(const MemberRecord& record);

}  // namespace shoal
