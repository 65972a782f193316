#include "common/hash/key_hash.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <string>
#include <string_view>

namespace shoal {
namespace {

using namespace std::string_view_literals;

TEST(HashTagOfTest, KeyWithoutBracesIsHashedWhole) {
  EXPECT_EQ(HashTagOf("user1"), "user1");
  EXPECT_EQ(HashTagOf(""), "");
}

TEST(HashTagOfTest, TagBetweenFirstOpenAndNextCloseBrace) {
  EXPECT_EQ(HashTagOf("{user1}.a"), "user1");
  EXPECT_EQ(HashTagOf("{user1}.b"), "user1");
  EXPECT_EQ(HashTagOf("profile:{user1}"), "user1");
  EXPECT_EQ(HashTagOf("x{a b}y"), "a b");
}

TEST(HashTagOfTest, FollowsRedisClusterRules) {
  // An empty tag means the whole key is hashed, even when a later tag exists.
  EXPECT_EQ(HashTagOf("{}x"), "{}x");
  EXPECT_EQ(HashTagOf("a{}b{c}"), "a{}b{c}");
  // Only the first tag counts.
  EXPECT_EQ(HashTagOf("a{b}{c}"), "b");
  // The tag ends at the first '}' after the first '{'.
  EXPECT_EQ(HashTagOf("{{a}}"), "{a");
  EXPECT_EQ(HashTagOf("a{b{c}d"), "b{c");
  // No closing brace after the opening one: the whole key.
  EXPECT_EQ(HashTagOf("abc{"), "abc{");
  EXPECT_EQ(HashTagOf("{abc"), "{abc");
  EXPECT_EQ(HashTagOf("a}b{c"), "a}b{c");
  EXPECT_EQ(HashTagOf("}{"), "}{");
}

TEST(HashTagOfTest, ReturnsAViewIntoTheKey) {
  const std::string key = "order:{cust42}:items";
  const std::string_view tag = HashTagOf(key);
  EXPECT_EQ(tag, "cust42");
  EXPECT_EQ(tag.data(), key.data() + key.find('{') + 1);
}

TEST(KeyHashTest, KeysSharingATagHashAlike) {
  EXPECT_EQ(KeyHash("{user1}.a"), KeyHash("{user1}.b"));
  EXPECT_EQ(KeyHash("{user1}.a"), KeyHash("user1"));
  EXPECT_EQ(KeyHash("a{b}{c}"), KeyHash("b"));
  EXPECT_NE(KeyHash("{user1}.a"), KeyHash("{user2}.a"));
  EXPECT_NE(KeyHash("user1.a"), KeyHash("user1.b"));
}

TEST(KeyHashTest, EmptyTagHashesWholeKey) {
  EXPECT_EQ(KeyHash("{}x"), Hash64("{}x"));
  EXPECT_NE(KeyHash("{}x"), KeyHash("{}y"));
  EXPECT_NE(KeyHash("{}x"), Hash64("x"));
}

TEST(KeyHashTest, IsXxh3With64BitsAndSeedZero) {
  for (std::string_view key : {""sv, "a"sv, "key:1"sv, "some much longer key with spaces"sv}) {
    EXPECT_EQ(KeyHash(key), XXH3_64bits_withSeed(key.data(), key.size(), 0)) << key;
    EXPECT_EQ(Hash64(key), XXH3_64bits(key.data(), key.size())) << key;
  }
  const std::string big(5000, 'z');  // past XXH3's short-input paths
  EXPECT_EQ(KeyHash(big), XXH3_64bits(big.data(), big.size()));
}

TEST(KeyHashTest, BinarySafe) {
  const std::string with_nul("ab\0cd", 5);
  EXPECT_NE(KeyHash(with_nul), KeyHash("ab"));
  EXPECT_EQ(KeyHash(with_nul), XXH3_64bits(with_nul.data(), with_nul.size()));
  // A tag may hold any byte, NUL included.
  const std::string tagged("{x\0y}.1", 7);
  EXPECT_EQ(KeyHash(tagged), KeyHash(std::string_view("x\0y", 3)));
}

TEST(Hash64Test, SeedChangesTheHash) {
  EXPECT_NE(Hash64("node-1", 0), Hash64("node-1", 1));
  EXPECT_NE(Hash64("node-1", 1), Hash64("node-1", 2));
  EXPECT_EQ(Hash64("node-1", 7), XXH3_64bits_withSeed("node-1", 6, 7));
}

// Every proxy must place a key identically, across builds, machines and library upgrades: these
// constants were computed once. If one changes, the placement of every key has changed.
TEST(KeyHashTest, StableValues) {
  // Published XXH3-64 of the empty input (seed 0): anchors the algorithm itself.
  EXPECT_EQ(Hash64(""), 0x2D06800538D394C2ull);
  EXPECT_EQ(Hash64("shoal"), 0xCBBD0E4E10BBA146ull);
  EXPECT_EQ(KeyHash("key:42"), 0x62DCD25E1B11DFEDull);
  EXPECT_EQ(KeyHash("{user1}.a"), 0xEFF89D018B2AAE9Cull);
  // Ring tokens: token i of a member is Hash64(id, i).
  EXPECT_EQ(Hash64("node-1", 7), 0xBAE7217CB1960810ull);
  EXPECT_EQ(Hash64(std::string(1000, 'a')), 0xB3E7AF627147DB7Cull);
}

}  // namespace
}  // namespace shoal
