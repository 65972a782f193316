#include "proxy/upstream/flush_mark.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace shoal::proxy {
namespace {

TEST(KnownFlushMarkTest, KeepsTheGreatestAndCountsRaises) {
  KnownFlushMark mark;
  EXPECT_TRUE(mark.Get().IsZero());
  EXPECT_EQ(mark.generation(), 0u);
  EXPECT_FALSE(mark.Offer(Version{}));  // zero: never flushed
  EXPECT_TRUE(mark.Offer(Version{10, 1}));
  EXPECT_EQ(mark.generation(), 1u);
  EXPECT_FALSE(mark.Offer(Version{10, 1}));  // the same: no raise
  EXPECT_FALSE(mark.Offer(Version{9, 7}));
  EXPECT_TRUE(mark.Offer(Version{10, 2}));  // the writer breaks a tie, as for any version
  EXPECT_EQ(mark.Get(), (Version{10, 2}));
  EXPECT_EQ(mark.generation(), 2u);
}

TEST(KnownFlushMarkTest, ConcurrentOffersEndAtTheMaximum) {
  KnownFlushMark mark;
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&mark, t] {
      for (uint64_t i = 1; i <= 1000; ++i) mark.Offer(Version{i * 4 + t, t});
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mark.Get(), (Version{1000 * 4 + 3, 3}));
  EXPECT_GE(mark.generation(), 1u);
}

}  // namespace
}  // namespace shoal::proxy
