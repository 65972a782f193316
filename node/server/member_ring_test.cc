// MemberRing: the members a node repairs with, replaced as the gossiped member table changes.

#include "node/server/member_ring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shoal::node {
namespace {

std::vector<RingMember> Members(const std::string& ids) {
  std::vector<RingMember> out;
  for (char id : ids) out.push_back({std::string(1, id), "127.0.0.1:" + std::to_string(7000 + id)});
  return out;
}

RingPtr Build(const std::string& ids) {
  auto ring = Ring::Build(Members(ids), 16);
  EXPECT_TRUE(ring.ok());
  return *ring;
}

TEST(MemberRingTest, FollowsTheMembersAndKeepsOldSnapshotsValid) {
  MemberRing members("b", 16, Build("ab"));
  const RingSnapshotPtr first = members.Current();
  EXPECT_EQ(first->ring->members().size(), 2u);
  EXPECT_EQ(first->self, 1);
  EXPECT_EQ(members.generation(), 0u);

  // The same members: nothing changes.
  EXPECT_FALSE(members.Update(Members("ab")));
  EXPECT_EQ(members.generation(), 0u);

  // A member joins (sorted by id, as MembersOf gives them): a new ring, a new generation.
  EXPECT_TRUE(members.Update(Members("abc")));
  const RingSnapshotPtr second = members.Current();
  EXPECT_EQ(members.generation(), 1u);
  EXPECT_EQ(second->generation, 1u);
  EXPECT_EQ(second->ring->IndexOf("c"), 2);
  EXPECT_EQ(second->self, 1);
  // The snapshot taken before is unchanged.
  EXPECT_EQ(first->ring->IndexOf("c"), -1);

  // A member's address changes: a new ring.
  std::vector<RingMember> moved = Members("abc");
  moved[2].address = "127.0.0.1:9999";
  EXPECT_TRUE(members.Update(moved));
  EXPECT_EQ(members.Current()->ring->members()[2].address, "127.0.0.1:9999");
  EXPECT_EQ(members.generation(), 2u);

  // Members without this node (it was decommissioned): the last ring stays.
  EXPECT_FALSE(members.Update(Members("ac")));
  EXPECT_EQ(members.generation(), 2u);
  EXPECT_EQ(members.Current()->ring->IndexOf("b"), 1);

  // A member removed: its index is gone, this node's follows.
  EXPECT_TRUE(members.Update(Members("bc")));
  EXPECT_EQ(members.Current()->self, 0);
  EXPECT_EQ(members.Current()->ring->IndexOf("a"), -1);
}

}  // namespace
}  // namespace shoal::node
