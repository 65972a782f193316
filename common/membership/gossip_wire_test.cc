#include "common/membership/gossip_wire.h"

#include <gtest/gtest.h>

#include "common/wire/frame.h"

namespace shoal {
namespace {

MemberRecord Rec(const std::string& id, uint64_t incarnation, uint64_t heartbeat) {
  MemberRecord r;
  r.id = id;
  r.address = "10.0.0.7:7001";
  r.zone = id == "a" ? "eu-1" : "";
  r.state = MemberState::kLeaving;
  r.incarnation = incarnation;
  r.heartbeat = heartbeat;
  r.tokens = 512;
  return r;
}

// Builds a frame, decodes and verifies it as a receiver would, and returns the envelope.
template <typename Fn>
const wire::Envelope* RoundTrip(FrameBuilder& fb, wire::Message type, Fn encode) {
  auto& b = fb.Start();
  auto frame = fb.Finish(7, type, encode(b).Union());
  static std::vector<uint8_t> copy;
  copy.assign(frame.begin(), frame.end());
  DecodedFrame out;
  EXPECT_EQ(DecodeFrame(copy.data(), copy.size(), kDefaultMaxFrameBytes, &out), FrameStatus::kOk);
  return out.envelope;
}

TEST(GossipWireTest, SynAckAck2RoundTrip) {
  FrameBuilder fb;
  GossipSynMessage syn{
      {{"a", {3, MemberState::kNormal, 99}}, {"b", {1, MemberState::kRemoved, 0}}}};
  auto* env = RoundTrip(fb, wire::Message::GossipSyn, [&](auto& b) { return EncodeSyn(b, syn); });
  ASSERT_NE(env->message_as_GossipSyn(), nullptr);
  EXPECT_EQ(DecodeSyn(*env->message_as_GossipSyn()).digests, syn.digests);

  GossipAckMessage ack{{Rec("a", 3, 99), Rec("b", 1, 2)}, {"c", "d"}};
  env = RoundTrip(fb, wire::Message::GossipAck, [&](auto& b) { return EncodeAck(b, ack); });
  ASSERT_NE(env->message_as_GossipAck(), nullptr);
  const GossipAckMessage ack_back = DecodeAck(*env->message_as_GossipAck());
  EXPECT_EQ(ack_back.members, ack.members);
  EXPECT_EQ(ack_back.wanted, ack.wanted);

  GossipAck2Message ack2{{Rec("c", 8, 1)}};
  env = RoundTrip(fb, wire::Message::GossipAck2, [&](auto& b) { return EncodeAck2(b, ack2); });
  ASSERT_NE(env->message_as_GossipAck2(), nullptr);
  EXPECT_EQ(DecodeAck2(*env->message_as_GossipAck2()).members, ack2.members);
}

TEST(GossipWireTest, EmptyMessagesDecodeEmpty) {
  FrameBuilder fb;
  auto* env =
      RoundTrip(fb, wire::Message::GossipAck, [](auto& b) { return wire::CreateGossipAck(b); });
  const GossipAckMessage ack = DecodeAck(*env->message_as_GossipAck());
  EXPECT_TRUE(ack.members.empty());
  EXPECT_TRUE(ack.wanted.empty());
  // A member without strings decodes with empty ones, which the table refuses.
  env = RoundTrip(fb, wire::Message::GossipAck2, [](auto& b) {
    std::vector<flatbuffers::Offset<wire::GossipMember>> m{wire::CreateGossipMember(b)};
    return wire::CreateGossipAck2(b, b.CreateVector(m));
  });
  const GossipAck2Message ack2 = DecodeAck2(*env->message_as_GossipAck2());
  ASSERT_EQ(ack2.members.size(), 1u);
  EXPECT_NE(InvalidRecordReason(ack2.members[0]), "");
}

TEST(GossipWireTest, MembersResponseRoundTrip) {
  FrameBuilder fb;
  MembersListing listing;
  listing.node_id = "a";
  listing.gossip = true;
  MemberView v;
  v.record = Rec("a", 2, 5);
  v.state = MemberState::kDown;
  v.phi = 12.5;
  v.last_heard_ms = 4321;
  listing.entries.push_back(v);
  auto* env = RoundTrip(fb, wire::Message::MembersResponse,
                        [&](auto& b) { return EncodeMembersResponse(b, listing); });
  ASSERT_NE(env->message_as_MembersResponse(), nullptr);
  const MembersListing back = DecodeMembersResponse(*env->message_as_MembersResponse());
  EXPECT_EQ(back.node_id, "a");
  EXPECT_TRUE(back.gossip);
  ASSERT_EQ(back.entries.size(), 1u);
  EXPECT_EQ(back.entries[0].record, v.record);
  EXPECT_EQ(back.entries[0].state, MemberState::kDown);
  EXPECT_DOUBLE_EQ(back.entries[0].phi, 12.5);
  EXPECT_EQ(back.entries[0].last_heard_ms, 4321);
}

TEST(GossipWireTest, RingMembersLeaveOutJoiningRemovedAndBadRecords) {
  MembersListing listing;
  auto add = [&listing](const std::string& id, MemberState record_state, MemberState seen,
                        const std::string& address = "10.0.0.7:7001") {
    MemberView v;
    v.record = Rec(id, 1, 1);
    v.record.state = record_state;
    v.record.address = address;
    v.state = seen;
    listing.entries.push_back(v);
  };
  add("d", MemberState::kNormal, MemberState::kDown);  // DOWN stays in the ring
  add("b", MemberState::kNormal, MemberState::kNormal);
  add("j", MemberState::kJoining, MemberState::kJoining);
  add("r", MemberState::kRemoved, MemberState::kRemoved);
  add("l", MemberState::kLeaving, MemberState::kLeaving);
  add("x", MemberState::kNormal, MemberState::kNormal, "no-port");
  add("b", MemberState::kNormal, MemberState::kNormal);  // a duplicate id counts once
  const std::vector<RingMember> ring = RingMembersOf(listing);
  std::vector<std::string> ids;
  for (const auto& m : ring) ids.push_back(m.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"b", "d", "l"}));
  EXPECT_EQ(ring[0].address, "10.0.0.7:7001");
  // The same listing by the other predicates: a node's repair members keep JOINING ones.
  auto ids_of = [&listing](bool (*keep)(MemberState)) {
    std::vector<std::string> out;
    for (const auto& m : MembersOf(listing, keep)) out.push_back(m.id);
    return out;
  };
  EXPECT_EQ(ids_of(JoiningState), (std::vector<std::string>{"j"}));
  EXPECT_EQ(ids_of(NotRemovedState), (std::vector<std::string>{"b", "d", "j", "l"}));
}

}  // namespace
}  // namespace shoal
