#include "node/gossip/stream_pacer.h"

#include <gtest/gtest.h>

namespace shoal::node {
namespace {

TEST(StreamPacerTest, UnlimitedNeverWaits) {
  StreamPacer pacer(0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pacer.Spend(1 << 30, 0), 0);
}

// 10 MB in 64 KB chunks at 1 MB/s, waiting as told: about 10 s, whatever the chunking.
TEST(StreamPacerTest, HoldsTheRate) {
  for (uint64_t chunk : {uint64_t{1} << 10, uint64_t{64} << 10, uint64_t{1} << 20}) {
    StreamPacer pacer(1 << 20);
    int64_t now = 1000;
    uint64_t moved = 0;
    while (moved < (uint64_t{10} << 20)) {
      moved += chunk;
      now += pacer.Spend(chunk, now);
    }
    EXPECT_GE(now - 1000, 10'000 - StreamPacer::kBurstMs - 1) << chunk;
    EXPECT_LE(now - 1000, 10'000) << chunk;
  }
}

// A pause is not saved up: after 10 s idle, the next megabyte still takes about a second.
TEST(StreamPacerTest, IdleTimeIsNotSavedUp) {
  StreamPacer pacer(1 << 20);
  EXPECT_EQ(pacer.Spend(1, 0), 0);
  const int64_t wait = pacer.Spend(1 << 20, 10'000);
  EXPECT_GE(wait, 1000 - StreamPacer::kBurstMs - 1);
  EXPECT_LE(wait, 1000);
}

// Time spent elsewhere (the requests themselves) counts: no wait when already slow enough.
TEST(StreamPacerTest, SlowStreamsDoNotWait) {
  StreamPacer pacer(1 << 20);
  int64_t now = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(pacer.Spend(64 << 10, now), 0) << i;
    now += 100;  // 64 KB per 100 ms: 640 KB/s
  }
}

// A new rate (a reload) applies from the next chunk; the debt owed at the old rate is forgiven.
TEST(StreamPacerTest, NewRateAppliesFromTheNextChunk) {
  StreamPacer pacer(1 << 10);  // 1 KB/s
  EXPECT_EQ(pacer.Spend(0, 0), 0);
  EXPECT_GE(pacer.Spend(100 << 10, 0), 99'000);   // 100 KB owes about 100 s
  EXPECT_FALSE(pacer.SetRate(1 << 10));           // the same rate: no change
  EXPECT_GE(pacer.Spend(1 << 10, 1000), 99'000);  // still owed
  EXPECT_TRUE(pacer.SetRate(1 << 20));            // 1 MB/s
  const int64_t wait = pacer.Spend(1 << 20, 2000);
  EXPECT_GE(wait, 1000 - StreamPacer::kBurstMs - 1);
  EXPECT_LE(wait, 1000);
  EXPECT_TRUE(pacer.SetRate(0));  // unlimited
  EXPECT_EQ(pacer.Spend(1 << 30, 2000), 0);
  EXPECT_TRUE(pacer.SetRate(1 << 20));  // limited again: paced from here
  EXPECT_EQ(pacer.Spend(0, 5000), 0);
  EXPECT_GE(pacer.Spend(1 << 20, 5000), 1000 - StreamPacer::kBurstMs - 1);
}

}  // namespace
}  // namespace shoal::node
