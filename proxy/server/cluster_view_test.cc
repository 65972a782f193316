#include "proxy/server/cluster_view.h"

#include <gtest/gtest.h>

#include "common/membership/gossip_wire.h"
#include "proxy/server/member_follower.h"

namespace shoal::proxy {
namespace {

MemberView View(const std::string& id, MemberState state) {
  MemberView v;
  v.record.id = id;
  v.record.address = "127.0.0.1:" + std::to_string(7000 + id[0]);
  v.record.state = state;
  v.state = state;
  return v;
}

// JOINING members are not ring members but are listed apart; REMOVED ones are neither; a member
// seen DOWN counts by its gossiped state.
TEST(MemberFollowerTest, RingAndJoiningMembersOfAListing) {
  MembersListing listing;
  listing.entries = {View("d", MemberState::kJoining), View("a", MemberState::kNormal),
                     View("c", MemberState::kRemoved), View("b", MemberState::kLeaving),
                     View("e", MemberState::kJoining)};
  listing.entries.push_back(View("f", MemberState::kNormal));
  listing.entries.back().state = MemberState::kDown;
  std::vector<std::string> ring, joining;
  for (const auto& m : RingMembersOf(listing)) ring.push_back(m.id);
  for (const auto& m : MembersOf(listing, JoiningState)) joining.push_back(m.id);
  EXPECT_EQ(ring, (std::vector<std::string>{"a", "b", "f"}));
  EXPECT_EQ(joining, (std::vector<std::string>{"d", "e"}));
}

// The pending ring's members get slots like the ring's; a member keeps its slot when it moves
// from the pending ring to the ring (JOINING -> NORMAL), so its link and health stay.
TEST(ClusterDirectoryTest, PendingRingSlots) {
  std::vector<RingMember> three = {{"a", "h:1", ""}, {"b", "h:2", ""}, {"c", "h:3", ""}};
  std::vector<RingMember> four = three;
  four.push_back({"d", "h:4", ""});
  auto ring3 = Ring::Build(three, 16);
  auto ring4 = Ring::Build(four, 16);
  ASSERT_TRUE(ring3.ok() && ring4.ok());
  ClusterDirectory dir;
  ASSERT_TRUE(dir.Publish(*ring3).ok());
  EXPECT_EQ(dir.view()->pending_ring, nullptr);
  EXPECT_EQ(dir.slot_count(), 3);

  ASSERT_TRUE(dir.Publish(*ring3, *ring4).ok());
  auto view = dir.view();
  ASSERT_NE(view->pending_ring, nullptr);
  EXPECT_EQ(view->slot_of.size(), 3u);
  ASSERT_EQ(view->pending_slot_of.size(), 4u);
  EXPECT_EQ(dir.slot_count(), 4);
  const int d_slot = view->pending_slot_of[view->pending_ring->IndexOf("d")];
  EXPECT_EQ(dir.slot(d_slot).id, "d");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(view->pending_slot_of[view->pending_ring->IndexOf(three[i].id)],
              view->slot_of[view->ring->IndexOf(three[i].id)]);
  }

  ASSERT_TRUE(dir.Publish(*ring4).ok());
  view = dir.view();
  EXPECT_EQ(view->pending_ring, nullptr);
  EXPECT_EQ(view->slot_of[view->ring->IndexOf("d")], d_slot);
  EXPECT_EQ(dir.slot_count(), 4);
}

}  // namespace
}  // namespace shoal::proxy
