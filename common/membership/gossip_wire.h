#pragma once

// The wire forms of gossip_round.h's messages and of the member listing (schemas/shoal.fbs:
// GossipSyn, GossipAck, GossipAck2, MembersResponse). Decoding trusts nothing beyond what the
// FlatBuffers verifier already checked: absent strings read as empty, and a record a peer should
// not have sent (bad address, state Down, ...) is decoded as is and refused by
// MemberTable::Merge (kInvalid), so one bad record does not drop the others.

#include <string>
#include <vector>

#include "common/membership/gossip_round.h"
#include "flatbuffers/flatbuffers.h"
#include "schemas/shoal_generated.h"

namespace shoal {

flatbuffers::Offset<wire::GossipMember> EncodeMember(flatbuffers::FlatBufferBuilder& b,
                                                     const MemberRecord& record);
MemberRecord DecodeMember(const wire::GossipMember& member);

flatbuffers::Offset<wire::GossipSyn> EncodeSyn(flatbuffers::FlatBufferBuilder& b,
                                               const GossipSynMessage& syn);
GossipSynMessage DecodeSyn(const wire::GossipSyn& syn);

flatbuffers::Offset<wire::GossipAck> EncodeAck(flatbuffers::FlatBufferBuilder& b,
                                               const GossipAckMessage& ack);
GossipAckMessage DecodeAck(const wire::GossipAck& ack);

flatbuffers::Offset<wire::GossipAck2> EncodeAck2(flatbuffers::FlatBufferBuilder& b,
                                                 const GossipAck2Message& ack2);
GossipAck2Message DecodeAck2(const wire::GossipAck2& ack2);

// A node's answer to MembersRequest.
struct MembersListing {
  std::string node_id;
  bool gossip = false;  // false: static membership (--nodes)
  std::vector<MemberView> entries;
};

flatbuffers::Offset<wire::MembersResponse> EncodeMembersResponse(flatbuffers::FlatBufferBuilder& b,
                                                                 const MembersListing& listing);
MembersListing DecodeMembersResponse(const wire::MembersResponse& response);

// The members of a listing whose gossiped state `keep` accepts (a member seen DOWN counts by its
// gossiped state), with an id and a valid address, sorted by id, one per id.
std::vector<RingMember> MembersOf(const MembersListing& listing, bool (*keep)(MemberState));

// The ring members: neither JOINING nor REMOVED (DOWN ones stay). Every proxy (--seeds) and
// shoalctl build the ring from them.
inline bool InRingState(MemberState s) {
  return s != MemberState::kJoining && s != MemberState::kRemoved;
}
// JOINING members: proxies send them the writes of the ranges they gain, not reads.
inline bool JoiningState(MemberState s) { return s == MemberState::kJoining; }
// Every member not REMOVED, JOINING ones included: the members a node repairs with (its start-up
// sync, anti-entropy and hint targets, node/server/member_ring.h).
inline bool NotRemovedState(MemberState s) { return s != MemberState::kRemoved; }

inline std::vector<RingMember> RingMembersOf(const MembersListing& listing) {
  return MembersOf(listing, InRingState);
}

}  // namespace shoal
