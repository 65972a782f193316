#include "proxy/command/element_scan.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace shoal::proxy {
namespace {

using typed::ElementView;

// Live elements (name order) viewing `names`, which must outlive them.
std::vector<ElementView> Live(const std::set<std::string>& names) {
  std::vector<ElementView> out;
  for (const std::string& n : names)
    out.push_back({n, Version{1, 1}, typed::ElementKind::kValue, n});
  return out;
}

std::set<std::string> Names(int n, const std::string& prefix = "f") {
  std::set<std::string> out;
  for (int i = 0; i < n; ++i) out.insert(prefix + std::to_string(i));
  return out;
}

TEST(ElementScanTest, SmallOnesComeWholeInNameOrderLikeRedisSmallEncodings) {
  const std::set<std::string> names = Names(static_cast<int>(kWholeScanElements));
  const std::vector<ElementView> live = Live(names);
  const ElementScanPage page = ScanElements(live, 0, 1, {});
  EXPECT_EQ(page.cursor, 0u);
  ASSERT_EQ(page.elements.size(), names.size());
  EXPECT_EQ(page.elements.front()->name, "f0");
  EXPECT_EQ(page.elements.back()->name, *names.rbegin());
  const ElementScanPage matched = ScanElements(live, 0, 10, "f1?");
  EXPECT_EQ(matched.elements.size(), 10u);  // f10 .. f19
  EXPECT_EQ(matched.cursor, 0u);
  EXPECT_TRUE(ScanElements({}, 0, 10, {}).elements.empty());
}

TEST(ElementScanTest, BigOnesArePagedByCountAndEveryElementComesOnce) {
  const std::set<std::string> names = Names(1000);
  const std::vector<ElementView> live = Live(names);
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  do {
    const ElementScanPage page = ScanElements(live, cursor, 10, {});
    EXPECT_GE(page.elements.size(), page.cursor != 0 ? 10u : 1u);
    EXPECT_LE(page.elements.size(), 11u);  // a shared key may add one (none here)
    for (const ElementView* e : page.elements) seen.insert(std::string(e->name));
    if (page.cursor != 0) {
      EXPECT_GT(page.cursor, cursor);
    }
    cursor = page.cursor;
    ASSERT_LT(++calls, 1000);
  } while (cursor != 0);
  EXPECT_EQ(calls, 100);
  EXPECT_EQ(seen, std::multiset<std::string>(names.begin(), names.end()));
}

TEST(ElementScanTest, MatchFiltersEachPageAfterItIsTaken) {
  const std::set<std::string> names = Names(500);  // the views below point into it
  const std::vector<ElementView> live = Live(names);
  std::set<std::string> seen;
  uint64_t cursor = 0;
  bool empty_page = false;
  do {
    const ElementScanPage page = ScanElements(live, cursor, 5, "f4??");
    empty_page |= page.elements.empty() && page.cursor != 0;
    for (const ElementView* e : page.elements) seen.insert(std::string(e->name));
    cursor = page.cursor;
  } while (cursor != 0);
  EXPECT_TRUE(empty_page);  // as in Redis: COUNT counts before MATCH
  std::set<std::string> expected;
  for (int i = 400; i < 500; ++i) expected.insert("f" + std::to_string(i));
  EXPECT_EQ(seen, expected);
}

// Elements added and removed between calls: each one present for the whole scan comes back at
// least once (Redis's guarantee), with COUNT from 1 to 50 and seeds that change the churn.
TEST(ElementScanTest, AnElementPresentForTheWholeScanIsReturnedAtLeastOnce) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    std::set<std::string> stable = Names(200 + static_cast<int>(seed) * 7, "s");
    std::set<std::string> churn = Names(150, "c");
    std::set<std::string> seen;
    const int64_t count = 1 + static_cast<int64_t>(rng() % 50);
    uint64_t cursor = 0;
    int calls = 0;
    do {
      std::set<std::string> now = stable;
      now.insert(churn.begin(), churn.end());
      const std::vector<ElementView> live = Live(now);
      const ElementScanPage page = ScanElements(live, cursor, count, {});
      for (const ElementView* e : page.elements) seen.insert(std::string(e->name));
      cursor = page.cursor;
      // Churn: remove some, add new ones (names never seen before).
      for (int i = 0; i < 5 && !churn.empty(); ++i) {
        auto it = churn.begin();
        std::advance(it, static_cast<long>(rng() % churn.size()));
        churn.erase(it);
      }
      for (int i = 0; i < 5; ++i)
        churn.insert("n" + std::to_string(seed) + "_" + std::to_string(calls * 5 + i));
      ASSERT_LT(++calls, 10000);
    } while (cursor != 0);
    for (const std::string& s : stable) {
      ASSERT_EQ(seen.count(s), 1u) << "seed " << seed << ": " << s << " never returned";
    }
  }
}

}  // namespace
}  // namespace shoal::proxy
