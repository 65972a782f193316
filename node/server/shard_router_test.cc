#include "node/server/shard_router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shoal::node {
namespace {

TEST(ShardRouterTest, SingleShardTakesEverything) {
  EXPECT_EQ(ShardOf("a", 1), 0u);
  EXPECT_EQ(ShardOf("", 1), 0u);
}

TEST(ShardRouterTest, StableAndInRange) {
  for (uint32_t shards : {2u, 3u, 7u, 16u}) {
    for (int i = 0; i < 1000; ++i) {
      const std::string key = "key:" + std::to_string(i);
      const uint32_t s = ShardOf(key, shards);
      EXPECT_LT(s, shards);
      EXPECT_EQ(s, ShardOf(key, shards));
    }
  }
}

TEST(ShardRouterTest, HashTagsShareAShard) {
  for (int i = 0; i < 100; ++i) {
    const std::string tag = "{user" + std::to_string(i) + "}";
    EXPECT_EQ(ShardOf(tag + ".a", 8), ShardOf(tag + ".b", 8));
  }
}

TEST(ShardRouterTest, BalancedOverAllKeys) {
  constexpr uint32_t kShards = 4;
  constexpr int kKeys = 100'000;
  std::vector<int> counts(kShards);
  for (int i = 0; i < kKeys; ++i) ++counts[ShardOf("k" + std::to_string(i), kShards)];
  for (int c : counts) {
    EXPECT_GT(c, kKeys / kShards * 0.95);
    EXPECT_LT(c, kKeys / kShards * 1.05);
  }
}

// A node holds a contiguous range of the ring (keys whose hash falls in one arc). The shard must
// not be a function of that range, or one shard would take all of a node's keys.
TEST(ShardRouterTest, BalancedWithinOneRingArc) {
  constexpr uint32_t kShards = 4;
  std::vector<int> counts(kShards);
  int in_arc = 0;
  // The arc [0, 2^64/16): keys whose hash's top 4 bits are zero.
  for (int i = 0; i < 400'000; ++i) {
    const uint64_t h = KeyHash("k" + std::to_string(i));
    if ((h >> 60) != 0) continue;
    ++in_arc;
    ++counts[ShardOfHash(h, kShards)];
  }
  ASSERT_GT(in_arc, 20'000);
  for (int c : counts) {
    EXPECT_GT(c, in_arc / kShards * 0.9);
    EXPECT_LT(c, in_arc / kShards * 1.1);
  }
}

}  // namespace
}  // namespace shoal::node
