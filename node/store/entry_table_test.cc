#include "node/store/entry_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shoal::node {
namespace {

// Entries with chosen hashes, so that collisions and bucket moves are under the test's control.
class EntryTableTest : public ::testing::Test {
 protected:
  ~EntryTableTest() override {
    for (Entry* e : owned_) FreeEntry(e);
  }

  Entry* Make(std::string_view key, uint32_t hash) {
    Entry* e = AllocateEntry(Entry::BlockSize(key.size(), 0));
    e->hash = hash;
    e->key_size = static_cast<uint32_t>(key.size());
    e->value_size = 0;
    std::memcpy(e->key_data(), key.data(), key.size());
    owned_.push_back(e);
    return e;
  }

  // Every key seen by one full traversal, with how often.
  std::map<std::string, int> Traverse(const std::function<void(int step)>& between = nullptr) {
    std::map<std::string, int> seen;
    uint64_t cursor = 0;
    int step = 0;
    do {
      table_.VisitBucket(cursor, [&](Entry* e) { ++seen[std::string(e->key())]; });
      cursor = table_.NextCursor(cursor);
      if (between) between(step++);
    } while (cursor != 0);
    return seen;
  }

  EntryTable table_;
  std::vector<Entry*> owned_;
};

TEST_F(EntryTableTest, FindsWhatWasInsertedAcrossGrowth) {
  std::vector<Entry*> entries;
  for (int i = 0; i < 5000; ++i) {
    // Many equal low bits: long chains until the table grows.
    entries.push_back(Make("k" + std::to_string(i), static_cast<uint32_t>(i * 64)));
    table_.Insert(entries.back());
  }
  EXPECT_EQ(table_.size(), 5000u);
  EXPECT_GE(table_.bucket_count(), 5000u);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_EQ(table_.Find("k" + std::to_string(i), static_cast<uint32_t>(i * 64)), entries[i]);
  }
  EXPECT_EQ(table_.Find("k1", 0), nullptr) << "same key, other hash";
  EXPECT_EQ(table_.Find("missing", 64), nullptr) << "same hash, other key";
}

TEST_F(EntryTableTest, SameHashDifferentKeysCoexist) {
  Entry* a = Make("a", 7);
  Entry* b = Make("b", 7);
  Entry* c = Make("c", 7);
  table_.Insert(a);
  table_.Insert(b);
  table_.Insert(c);
  table_.Remove(b);
  EXPECT_EQ(table_.Find("a", 7), a);
  EXPECT_EQ(table_.Find("b", 7), nullptr);
  EXPECT_EQ(table_.Find("c", 7), c);
  Entry* c2 = Make("c", 7);
  table_.Replace(c, c2);
  EXPECT_EQ(table_.Find("c", 7), c2);
  EXPECT_EQ(table_.size(), 2u);
}

TEST_F(EntryTableTest, ShrinksOnlyWhenAskedAndKeepsEntries) {
  for (int i = 0; i < 4096; ++i) table_.Insert(Make("k" + std::to_string(i), i * 2654435761u));
  const size_t grown = table_.bucket_count();
  for (int i = 0; i < 4000; ++i)
    table_.Remove(table_.Find("k" + std::to_string(i), i * 2654435761u));
  EXPECT_EQ(table_.bucket_count(), grown);
  EXPECT_TRUE(table_.MaybeShrink());
  EXPECT_LT(table_.bucket_count(), grown);
  EXPECT_GE(table_.bucket_count(), table_.size());
  EXPECT_FALSE(table_.MaybeShrink());
  for (int i = 4000; i < 4096; ++i) {
    ASSERT_NE(table_.Find("k" + std::to_string(i), i * 2654435761u), nullptr);
  }
}

TEST_F(EntryTableTest, TraversalVisitsEachEntryOnceWithoutResize) {
  for (int i = 0; i < 1000; ++i) table_.Insert(Make("k" + std::to_string(i), i * 2654435761u));
  std::map<std::string, int> seen = Traverse();
  EXPECT_EQ(seen.size(), 1000u);
  for (const auto& [key, times] : seen) EXPECT_EQ(times, 1) << key;
}

TEST_F(EntryTableTest, TraversalCoversEntriesThroughGrowthAndShrink) {
  for (int i = 0; i < 1000; ++i) table_.Insert(Make("k" + std::to_string(i), i * 2654435761u));
  std::vector<Entry*> extra;
  std::map<std::string, int> seen = Traverse([&](int step) {
    if (step == 100) {  // grow twice mid-way
      for (int i = 0; i < 3000; ++i) {
        extra.push_back(Make("x" + std::to_string(i), i * 40503u + 17));
        table_.Insert(extra.back());
      }
    }
    if (step == 2000) {  // and shrink again
      for (Entry* e : extra) table_.Remove(e);
      while (table_.MaybeShrink()) {
      }
    }
  });
  for (int i = 0; i < 1000; ++i) EXPECT_GE(seen["k" + std::to_string(i)], 1) << i;
}

}  // namespace
}  // namespace shoal::node
