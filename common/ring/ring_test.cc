#include "common/ring/ring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/hash/key_hash.h"

namespace shoal {
namespace {

std::vector<RingMember> Members(int count, int first = 0) {
  std::vector<RingMember> out;
  for (int i = first; i < first + count; ++i) {
    out.push_back({"node-" + std::to_string(i), "10.0.0." + std::to_string(i) + ":7000"});
  }
  return out;
}

RingPtr MustBuild(std::vector<RingMember> members, int tokens = Ring::kDefaultTokensPerNode) {
  auto ring = Ring::Build(std::move(members), tokens);
  EXPECT_TRUE(ring.ok()) << ring.status().ToString();
  return ring.ok() ? *ring : nullptr;
}

std::string Key(int i) { return "key:" + std::to_string(i); }

// The preference list of a key as member ids.
std::vector<std::string> OwnerIds(const Ring& ring, std::string_view key, int n) {
  std::vector<std::string> ids;
  for (int m : ring.OwnersOfKey(key, n)) ids.push_back(ring.members()[m].id);
  return ids;
}

TEST(RingBuildTest, RejectsEmptyMemberSet) {
  auto ring = Ring::Build({});
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), Status::Code::kInvalidArgument);
}

TEST(RingBuildTest, RejectsDuplicateIds) {
  auto members = Members(3);
  members.push_back({"node-1", "10.9.9.9:7000"});
  auto ring = Ring::Build(members);
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(ring.status().message().find("node-1"), std::string::npos) << ring.status().ToString();
}

TEST(RingBuildTest, RejectsEmptyIdAndBadTokenCount) {
  EXPECT_FALSE(Ring::Build({{"", "h:1"}}).ok());
  EXPECT_FALSE(Ring::Build(Members(2), 0).ok());
  EXPECT_FALSE(Ring::Build(Members(2), -5).ok());
  EXPECT_TRUE(Ring::Build(Members(2), 1).ok());
}

TEST(RingBuildTest, KeepsMembersAndTokenCount) {
  RingPtr ring = MustBuild(Members(4), 16);
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(ring->tokens_per_node(), 16);
  ASSERT_EQ(ring->members().size(), 4u);
  EXPECT_EQ(ring->IndexOf("node-2"), 2);
  EXPECT_EQ(ring->members()[2].address, "10.0.0.2:7000");
  EXPECT_EQ(ring->IndexOf("node-9"), -1);
  EXPECT_EQ(MustBuild(Members(1))->tokens_per_node(), Ring::kDefaultTokensPerNode);
}

TEST(RingTest, TokensAreHashesOfTheMemberId) {
  // Token i of a member sits at Hash64(id, i); a hash equal to a token position belongs to it.
  RingPtr ring = MustBuild(Members(5), 64);
  for (int m = 0; m < 5; ++m) {
    for (int i = 0; i < 64; i += 7) {
      int owner = -1;
      ASSERT_EQ(ring->PreferenceList(Hash64(ring->members()[m].id, i), 1, &owner), 1);
      EXPECT_EQ(owner, m) << "token " << i << " of member " << m;
    }
  }
}

TEST(RingTest, PreferenceListHasNDistinctMembers) {
  RingPtr ring = MustBuild(Members(10));
  for (int i = 0; i < 10000; ++i) {
    for (int n : {1, 3, 5}) {
      const std::vector<int> owners = ring->OwnersOfKey(Key(i), n);
      ASSERT_EQ(owners.size(), static_cast<size_t>(n));
      EXPECT_EQ(std::set<int>(owners.begin(), owners.end()).size(), owners.size());
      for (int m : owners) {
        EXPECT_GE(m, 0);
        EXPECT_LT(m, 10);
      }
    }
    // A longer list extends a shorter one: the primary is the first replica.
    const std::vector<int> three = ring->OwnersOfKey(Key(i), 3);
    const std::vector<int> five = ring->OwnersOfKey(Key(i), 5);
    ASSERT_TRUE(std::equal(three.begin(), three.end(), five.begin()));
  }
}

TEST(RingTest, NLargerThanMembersReturnsAllMembers) {
  RingPtr ring = MustBuild(Members(3));
  for (int i = 0; i < 1000; ++i) {
    std::vector<int> owners = ring->OwnersOfKey(Key(i), 5);
    std::sort(owners.begin(), owners.end());
    ASSERT_EQ(owners, (std::vector<int>{0, 1, 2}));
  }
  RingPtr one = MustBuild(Members(1));
  EXPECT_EQ(one->OwnersOfKey("k", 3), std::vector<int>{0});
}

TEST(RingTest, PreferenceListIsCappedAtMaxReplicas) {
  RingPtr ring = MustBuild(Members(12), 32);
  int out[Ring::kMaxReplicas + 4];
  std::fill(std::begin(out), std::end(out), -1);
  EXPECT_EQ(ring->PreferenceList(KeyHash("k"), 12, out), Ring::kMaxReplicas);
  EXPECT_EQ(out[Ring::kMaxReplicas], -1) << "wrote past the promised count";
  std::set<int> distinct(out, out + Ring::kMaxReplicas);
  EXPECT_EQ(distinct.size(), static_cast<size_t>(Ring::kMaxReplicas));
}

TEST(RingTest, ZeroOrNegativeNReturnsNothing) {
  RingPtr ring = MustBuild(Members(4), 32);
  int out[Ring::kMaxReplicas] = {-1, -1, -1, -1, -1, -1, -1, -1};
  EXPECT_EQ(ring->PreferenceList(KeyHash("k"), 0, out), 0);
  EXPECT_EQ(ring->PreferenceList(KeyHash("k"), -3, out), 0);
  EXPECT_EQ(out[0], -1);
  EXPECT_TRUE(ring->OwnersOfKey("k", -1).empty());
}

TEST(RingTest, HashesPastTheLastTokenWrapAround) {
  RingPtr ring = MustBuild(Members(6), 32);
  int high[3], low[3];
  ASSERT_EQ(ring->PreferenceList(~uint64_t{0}, 3, high), 3);
  ASSERT_EQ(ring->PreferenceList(0, 3, low), 3);
  EXPECT_TRUE(std::equal(high, high + 3, low));
}

// The bucket index must find exactly the token a binary search over all tokens finds: checked
// against tokens recomputed here, for random hashes, every token position and its neighbours,
// and bucket edges, across ring sizes that give different bucket counts.
TEST(RingTest, IndexedLookupMatchesBinarySearch) {
  std::mt19937_64 rng(7);
  for (int members : {1, 3, 10, 40}) {
    for (int tokens : {1, 16, 512}) {
      RingPtr ring = MustBuild(Members(members), tokens);
      std::vector<std::pair<uint64_t, int>> sorted;  // (position, member)
      for (int m = 0; m < members; ++m) {
        for (int i = 0; i < tokens; ++i) sorted.push_back({Hash64(ring->members()[m].id, i), m});
      }
      std::sort(sorted.begin(), sorted.end());
      auto primary = [&](uint64_t h) {
        auto it = std::lower_bound(sorted.begin(), sorted.end(), std::make_pair(h, -1));
        return it == sorted.end() ? sorted.front().second : it->second;
      };
      std::vector<uint64_t> probes = {0, 1, ~uint64_t{0}, ~uint64_t{0} - 1};
      for (int i = 0; i < 20000; ++i) probes.push_back(rng());
      for (const auto& [pos, m] : sorted) {
        probes.insert(probes.end(), {pos - 1, pos, pos + 1});
      }
      for (int b = 0; b < 64; ++b) probes.push_back(uint64_t{1} << b);
      for (uint64_t h : probes) {
        int owner = -1;
        ASSERT_EQ(ring->PreferenceList(h, 1, &owner), 1);
        ASSERT_EQ(owner, primary(h))
            << "hash " << h << " members " << members << " tokens " << tokens;
      }
    }
  }
}

TEST(RingTest, RangesCoverTheHashSpaceWithTheirPreferenceLists) {
  RingPtr ring = MustBuild(Members(4), 16);
  const auto ranges = ring->Ranges(3);
  ASSERT_EQ(ranges.size(), 64u);
  uint64_t covered = 0;  // wraps to exactly 2^64 == 0
  std::vector<uint64_t> primary(4, 0);
  int buf[Ring::kMaxReplicas];
  for (size_t i = 0; i < ranges.size(); ++i) {
    const Ring::Range& r = ranges[i];
    if (i > 0) EXPECT_EQ(r.start, ranges[i - 1].end);
    EXPECT_EQ(r.count, 3);
    covered += r.end - r.start;
    primary[r.replicas[0]] += r.end - r.start;
    // Both ends of the range (start is exclusive) have its preference list.
    for (uint64_t h : {r.start + 1, r.end}) {
      ASSERT_EQ(ring->PreferenceList(h, 3, buf), 3);
      EXPECT_TRUE(std::equal(buf, buf + 3, r.replicas)) << "range " << i;
    }
  }
  EXPECT_EQ(ranges.front().start, ranges.back().end);  // the first range wraps
  EXPECT_EQ(covered, 0u);
  // Each of 4 members is primary for some share of the space.
  for (uint64_t p : primary) EXPECT_GT(p, 0u);
  EXPECT_EQ(ring->Ranges(0)[0].count, 0);
}

TEST(RingTest, HashTaggedKeysShareOwners) {
  RingPtr ring = MustBuild(Members(10));
  for (int i = 0; i < 200; ++i) {
    const std::string tag = "{user" + std::to_string(i) + "}";
    EXPECT_EQ(ring->OwnersOfKey(tag + ".a", 3), ring->OwnersOfKey(tag + ".b", 3));
  }
}

TEST(RingTest, DeterministicWhateverTheMemberOrder) {
  std::vector<RingMember> members = Members(10);
  RingPtr a = MustBuild(members);
  std::mt19937 rng(42);
  std::shuffle(members.begin(), members.end(), rng);
  // Addresses do not place tokens: only ids do.
  for (auto& m : members) m.address = "changed:1";
  RingPtr b = MustBuild(members);
  ASSERT_NE(a->members()[0].id, b->members()[0].id) << "shuffle left the order unchanged";
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(OwnerIds(*a, Key(i), 3), OwnerIds(*b, Key(i), 3)) << Key(i);
  }
}

// With the default token count, no member of 10 owns more than 1.2x its fair share of keys.
TEST(RingTest, BalancedWithDefaultTokenCount) {
  constexpr int kMembers = 10;
  constexpr int kKeys = 1'000'000;
  RingPtr ring = MustBuild(Members(kMembers));
  std::vector<int> primaries(kMembers, 0);
  int owner;
  for (int i = 0; i < kKeys; ++i) {
    ring->PreferenceList(KeyHash(Key(i)), 1, &owner);
    ++primaries[owner];
  }
  const double fair = static_cast<double>(kKeys) / kMembers;
  const double max_share = *std::max_element(primaries.begin(), primaries.end()) / fair;
  const double min_share = *std::min_element(primaries.begin(), primaries.end()) / fair;
  RecordProperty("max_share", std::to_string(max_share));
  std::printf("tokens per node %d: max share %.4f, min share %.4f of fair\n",
              Ring::kDefaultTokensPerNode, max_share, min_share);
  EXPECT_LE(max_share, 1.2);
  EXPECT_GE(min_share, 0.8);
}

// The same bound for many 10-member id sets, not one lucky set: each member's exact share of the
// hash space, summed over the arcs that end at its tokens (a hash equal to a token position maps
// to that token's member, and hashes in (previous token, token] map there too).
TEST(RingTest, BalancedForManyMemberIdSets) {
  constexpr int kSets = 500;
  constexpr int kMembers = 10;
  double worst = 0;
  for (int s = 0; s < kSets; ++s) {
    std::vector<RingMember> members;
    for (int m = 0; m < kMembers; ++m) {
      members.push_back({"set" + std::to_string(s) + "-node-" + std::to_string(m), "h:1"});
    }
    RingPtr ring = MustBuild(members);
    std::vector<uint64_t> positions;
    for (const auto& m : members) {
      for (int i = 0; i < ring->tokens_per_node(); ++i) positions.push_back(Hash64(m.id, i));
    }
    std::sort(positions.begin(), positions.end());
    std::vector<long double> share(kMembers, 0);
    for (size_t t = 0; t < positions.size(); ++t) {
      const uint64_t prev = positions[t == 0 ? positions.size() - 1 : t - 1];
      int owner;
      ring->PreferenceList(positions[t], 1, &owner);
      share[owner] += static_cast<long double>(positions[t] - prev);  // wraps for t == 0
    }
    const long double fair = 18446744073709551616.0L / kMembers;
    const double max_share =
        static_cast<double>(*std::max_element(share.begin(), share.end()) / fair);
    worst = std::max(worst, max_share);
    EXPECT_LE(max_share, 1.2) << "id set " << s;
  }
  std::printf("worst max share over %d id sets: %.4f\n", kSets, worst);
}

// Adding an 11th member moves about 1/11 of the keys, all of them to the new member, and a key's
// replica set changes only by the new member entering it.
TEST(RingTest, AddingAMemberMovesOnlyKeysItGains) {
  constexpr int kKeys = 1'000'000;
  constexpr int kN = 3;
  std::vector<RingMember> members = Members(10);
  RingPtr before = MustBuild(members);
  members.push_back({"node-new", "10.0.0.99:7000"});
  RingPtr after = MustBuild(members);
  const int added = after->IndexOf("node-new");
  ASSERT_EQ(added, 10);

  int moved = 0;
  int old_list[kN], new_list[kN];
  for (int i = 0; i < kKeys; ++i) {
    const uint64_t h = KeyHash(Key(i));
    ASSERT_EQ(before->PreferenceList(h, kN, old_list), kN);
    ASSERT_EQ(after->PreferenceList(h, kN, new_list), kN);
    if (old_list[0] != new_list[0]) {
      ++moved;
      ASSERT_EQ(new_list[0], added) << Key(i) << " moved between old members";
    }
    // Indices 0..9 name the same members in both rings. The new list is the old one with the new
    // member inserted somewhere (and the last old replica dropped), order kept.
    std::vector<int> rest;
    for (int m : new_list) {
      if (m != added) rest.push_back(m);
    }
    ASSERT_TRUE(std::equal(rest.begin(), rest.end(), old_list)) << Key(i);
  }
  const double fraction = static_cast<double>(moved) / kKeys;
  const double ideal = 1.0 / 11;
  std::printf("adding an 11th member moved %.4f of keys (ideal %.4f)\n", fraction, ideal);
  EXPECT_GE(fraction, 0.7 * ideal);
  EXPECT_LE(fraction, 1.3 * ideal);
}

TEST(RingTest, RemovingAMemberMovesOnlyItsKeys) {
  std::vector<RingMember> members = Members(8);
  RingPtr before = MustBuild(members);
  members.erase(members.begin() + 3);  // node-3
  RingPtr after = MustBuild(members);
  int moved = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::vector<std::string> old_ids = OwnerIds(*before, Key(i), 3);
    const std::vector<std::string> new_ids = OwnerIds(*after, Key(i), 3);
    if (old_ids[0] != new_ids[0]) {
      ++moved;
      ASSERT_EQ(old_ids[0], "node-3");
    }
    // Survivors keep their order; the removed member's place goes to the next one clockwise.
    std::vector<std::string> survivors;
    for (const auto& id : old_ids) {
      if (id != "node-3") survivors.push_back(id);
    }
    ASSERT_TRUE(std::equal(survivors.begin(), survivors.end(), new_ids.begin())) << Key(i);
  }
  EXPECT_GT(moved, 0);
}

}  // namespace
}  // namespace shoal

namespace shoal {
namespace {

// SCAN relies on the token positions enumerating every preference list: every key's list is the
// list of the first position at or after its hash (wrapping).
TEST(RingTokenPositionsTest, EveryKeysPreferenceListIsThatOfItsArcsEnd) {
  auto ring = Ring::Build({{"a", "h:1"}, {"b", "h:2"}, {"c", "h:3"}, {"d", "h:4"}}, 16);
  ASSERT_TRUE(ring.ok());
  const std::vector<uint64_t> positions = (*ring)->TokenPositions();
  ASSERT_EQ(positions.size(), 64u);
  ASSERT_TRUE(std::is_sorted(positions.begin(), positions.end()));
  for (uint64_t i = 0; i < 2000; ++i) {
    const uint64_t h = i * 0x9E3779B97F4A7C15ull;
    auto it = std::lower_bound(positions.begin(), positions.end(), h);
    const uint64_t end = it == positions.end() ? positions.front() : *it;
    int a[Ring::kMaxReplicas], b[Ring::kMaxReplicas];
    const int na = (*ring)->PreferenceList(h, 3, a);
    const int nb = (*ring)->PreferenceList(end, 3, b);
    ASSERT_EQ(std::vector<int>(a, a + na), std::vector<int>(b, b + nb)) << h;
  }
}

// ---- Zones: distinct zones first ----

// The preference list the zone rule gives, computed from the plain walk: the ring of the same ids
// without zones has the same tokens, and with at most kMaxReplicas members its full preference
// list is the order in which the walk meets every member.
std::vector<std::string> ZoneRuleReference(const Ring& plain, const std::vector<RingMember>& zoned,
                                           std::string_view key, int n) {
  std::vector<std::string> first, passed, zones_seen;
  for (const std::string& id : OwnerIds(plain, key, static_cast<int>(zoned.size()))) {
    const auto it =
        std::find_if(zoned.begin(), zoned.end(), [&](const RingMember& m) { return m.id == id; });
    if (std::find(zones_seen.begin(), zones_seen.end(), it->zone) == zones_seen.end()) {
      zones_seen.push_back(it->zone);
      first.push_back(id);
    } else {
      passed.push_back(id);
    }
  }
  first.insert(first.end(), passed.begin(), passed.end());
  first.resize(std::min<size_t>(first.size(), static_cast<size_t>(n)));
  return first;
}

TEST(RingZoneTest, PreferenceListTakesDistinctZonesFirst) {
  // Uneven zones: 4 members in z1, 2 in z2, 1 in z3.
  std::vector<RingMember> zoned = Members(7);
  const char* zones[] = {"z1", "z1", "z1", "z1", "z2", "z2", "z3"};
  for (size_t i = 0; i < zoned.size(); ++i) zoned[i].zone = zones[i];
  RingPtr plain = MustBuild(Members(7));
  RingPtr ring = MustBuild(zoned);
  ASSERT_TRUE(plain && ring);
  int differs_from_plain = 0;
  for (int i = 0; i < 3000; ++i) {
    for (int n = 1; n <= 7; ++n) {
      const auto owners = OwnerIds(*ring, Key(i), n);
      ASSERT_EQ(owners, ZoneRuleReference(*plain, zoned, Key(i), n)) << Key(i) << " n=" << n;
      if (n == 3) {
        // N >= zones: one replica in every zone.
        std::set<std::string> got;
        for (const auto& id : owners) got.insert(zones[std::stoi(id.substr(5))]);
        EXPECT_EQ(got.size(), 3u) << Key(i);
        differs_from_plain += owners != OwnerIds(*plain, Key(i), 3);
      }
    }
  }
  // The rule matters: the plain walk would often put two z1 members first.
  EXPECT_GT(differs_from_plain, 1000);
  // Ranges follow the same lists.
  for (const Ring::Range& r : ring->Ranges(3)) {
    int owners[Ring::kMaxReplicas];
    ASSERT_EQ(ring->PreferenceList(r.end, 3, owners), 3);
    EXPECT_TRUE(std::equal(owners, owners + 3, r.replicas));
  }
}

TEST(RingZoneTest, NoZoneOrOneZoneIsThePlainWalk) {
  std::vector<RingMember> one_zone = Members(10);
  for (auto& m : one_zone) m.zone = "z";
  RingPtr plain = MustBuild(Members(10));
  RingPtr zoned = MustBuild(one_zone);
  ASSERT_TRUE(plain && zoned);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_EQ(OwnerIds(*zoned, Key(i), 8), OwnerIds(*plain, Key(i), 8)) << Key(i);
  }
}

TEST(RingZoneTest, LosingAZoneLosesNoKey) {
  // Three zones of three members, N = 3: every key has one replica per zone, so the members of
  // any one zone are never all of a key's replicas.
  std::vector<RingMember> members = Members(9);
  for (size_t i = 0; i < members.size(); ++i) members[i].zone = "z" + std::to_string(i % 3);
  RingPtr ring = MustBuild(members);
  ASSERT_TRUE(ring);
  for (int i = 0; i < 5000; ++i) {
    std::set<std::string> zones;
    for (int m : ring->OwnersOfKey(Key(i), 3)) zones.insert(ring->members()[m].zone);
    ASSERT_EQ(zones.size(), 3u) << Key(i);
  }
}

TEST(RingZoneTest, MemberListTakesAZoneAfterTheAddress) {
  auto parsed = ParseMemberList("a=127.0.0.1:7001@eu-1a, b=127.0.0.1:7002", "--nodes");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].address, "127.0.0.1:7001");
  EXPECT_EQ((*parsed)[0].zone, "eu-1a");
  EXPECT_EQ((*parsed)[1].zone, "");
  auto empty = ParseMemberList("a=127.0.0.1:7001@", "--nodes");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty zone"), std::string::npos);
}

}  // namespace
}  // namespace shoal
