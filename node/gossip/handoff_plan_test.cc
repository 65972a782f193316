// PlanKeyMoves: which new owners a node streams to, copies to, or leaves to the others, for the
// membership changes the rebalancer meets (a join, a removal, a decommission, N members at once).

#include "node/gossip/handoff_plan.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "common/hash/key_hash.h"

namespace shoal::node {
namespace {

constexpr int kN = 3;
constexpr int kKeys = 3000;

RingPtr RingOf(const std::vector<std::string>& ids) {
  std::vector<RingMember> members;
  for (const auto& id : ids) members.push_back({id, id + ":1"});
  StatusOr<RingPtr> ring = Ring::Build(members, 64);
  EXPECT_TRUE(ring.ok());
  return *ring;
}

std::set<std::string> Owners(const Ring& ring, uint64_t hash) {
  int owners[Ring::kMaxReplicas];
  const int count = ring.PreferenceList(hash, kN, owners);
  std::set<std::string> out;
  for (int i = 0; i < count; ++i) out.insert(ring.members()[owners[i]].id);
  return out;
}

std::set<std::string> Ids(const Ring& ring, const std::vector<int>& members) {
  std::set<std::string> out;
  for (int m : members) out.insert(ring.members()[m].id);
  return out;
}

// For every key and every node of `before`: what PlanKeyMoves says, checked against the rule;
// returns how many (key, new owner) pairs are covered by at least one stream or copy.
struct Totals {
  int gained = 0;   // (key, owner the new ring adds)
  int covered = 0;  // of those, reached by some node's stream or copy
  int streams = 0;  // (node, key, target) streamed
  int copies = 0;   // (node, key, target) copied
};

Totals Check(const Ring& before, const Ring& after, bool merkle) {
  Totals t;
  KeyMoves moves;
  for (int k = 0; k < kKeys; ++k) {
    const uint64_t hash = KeyHash("key" + std::to_string(k));
    const std::set<std::string> old_owners = Owners(before, hash);
    const std::set<std::string> new_owners = Owners(after, hash);
    std::set<std::string> gained;
    for (const auto& id : new_owners) {
      if (!old_owners.count(id)) gained.insert(id);
    }
    t.gained += static_cast<int>(gained.size());
    std::set<std::string> reached;
    for (const RingMember& m : before.members()) {
      PlanKeyMoves(before, after, m.id, kN, hash, merkle, &moves);
      const std::set<std::string> stream = Ids(after, moves.stream);
      const std::set<std::string> copy = Ids(after, moves.copy);
      if (!old_owners.count(m.id)) {  // not an owner before: nothing to move
        EXPECT_TRUE(stream.empty() && copy.empty()) << k << " " << m.id;
        continue;
      }
      // Only owners the new ring adds, never this node itself.
      for (const auto& id : stream) EXPECT_TRUE(gained.count(id)) << k;
      for (const auto& id : copy) EXPECT_TRUE(gained.count(id)) << k;
      if (!merkle) {
        EXPECT_TRUE(stream.empty());
        EXPECT_EQ(copy, gained) << k << " " << m.id;
      } else if (new_owners.count(m.id)) {
        EXPECT_EQ(stream, gained) << k << " " << m.id;  // it keeps the key: streams its pairs
        EXPECT_TRUE(copy.empty());
      }
      t.streams += static_cast<int>(stream.size());
      t.copies += static_cast<int>(copy.size());
      reached.insert(stream.begin(), stream.end());
      reached.insert(copy.begin(), copy.end());
    }
    t.covered += static_cast<int>(reached.size());
  }
  return t;
}

TEST(PlanKeyMovesTest, AJoinIsStreamedByTheOwnersThatStay) {
  const Totals t = Check(*RingOf({"a", "b", "c"}), *RingOf({"a", "b", "c", "d"}), true);
  EXPECT_GT(t.gained, kKeys / 2);  // d gains about 3/4 of the keys
  EXPECT_EQ(t.covered, t.gained);
  EXPECT_EQ(t.copies, 0);  // two of the three previous owners stay: no whole copy
  EXPECT_EQ(t.streams, 2 * t.gained);
}

TEST(PlanKeyMovesTest, ARemovalIsStreamedByTheSurvivors) {
  const Totals t = Check(*RingOf({"a", "b", "c", "d", "e"}), *RingOf({"a", "b", "d", "e"}), true);
  EXPECT_GT(t.gained, 0);
  EXPECT_EQ(t.covered, t.gained);
  EXPECT_EQ(t.copies, 0);
}

TEST(PlanKeyMovesTest, WithoutMerkleEveryPreviousOwnerCopiesWhole) {
  // A decommission (the leaving node is in no new preference list) and a last attempt.
  const Totals t = Check(*RingOf({"a", "b", "c", "d"}), *RingOf({"a", "b", "c"}), false);
  EXPECT_GT(t.gained, 0);
  EXPECT_EQ(t.covered, t.gained);
  EXPECT_EQ(t.streams, 0);
  EXPECT_GE(t.copies, t.gained);
}

TEST(PlanKeyMovesTest, KeysNoPreviousOwnerKeepsAreCopiedWhole) {
  // Three members added to three at once, N=3: some keys' owners are all new.
  const Ring before = *RingOf({"a", "b", "c"});
  const Ring after = *RingOf({"a", "b", "c", "d", "e", "f"});
  const Totals t = Check(before, after, true);
  EXPECT_EQ(t.covered, t.gained);
  EXPECT_GT(t.copies, 0);
  EXPECT_GT(t.streams, 0);
  // Exactly the keys whose new owners are all new are copied, by each of their previous owners.
  int all_new = 0;
  for (int k = 0; k < kKeys; ++k) {
    const uint64_t hash = KeyHash("key" + std::to_string(k));
    const std::set<std::string> old_owners = Owners(before, hash);
    bool kept = false;
    for (const auto& id : Owners(after, hash)) kept |= old_owners.count(id) > 0;
    if (!kept) ++all_new;
  }
  EXPECT_GT(all_new, 0);
  EXPECT_EQ(t.copies, all_new * kN * kN);  // 3 previous owners x 3 new owners each
}

}  // namespace
}  // namespace shoal::node
