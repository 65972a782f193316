#include "node/hints/hint_spool.h"

#include <gtest/gtest.h>

#include "node/hints/hint_test_util.h"

namespace shoal::node::hints {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;

class HintSpoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<HintSpool> OpenSpool(SpoolOptions options = {}) {
    auto spool = HintSpool::Open(dir_.path() + "/hints", options, clock_);
    EXPECT_TRUE(spool.ok()) << spool.status().ToString();
    return spool.ok() ? std::move(*spool) : nullptr;
  }
  // Admits and appends, as the node does.
  void Store(HintSpool& spool, std::vector<Hint> hints) {
    for (const Hint& h : hints) ASSERT_EQ(spool.Admit(h.SpoolBytes()), nullptr);
    ASSERT_TRUE(spool.Append(hints, counters_).ok());
  }
  static std::vector<std::string> Keys(const std::vector<Hint>& hints) {
    std::vector<std::string> out;
    for (const Hint& h : hints) out.push_back(h.key);
    return out;
  }

  TempDir dir_;
  FakeClock clock_;
  SpoolCounters counters_;  // the calling thread's (the node's writer, replayer, ...)
};

TEST(HintRecordTest, RoundTripsEveryField) {
  Hint h = MakeHint("node-2", std::string("k\0ey", 4), 0x0102030405060708ull, "value", 99);
  h.expiry_version = Version{0x0102030405060709ull, 3};
  h.tombstone = true;
  h.stored_ms = 1234;
  auto back = DecodeHint(EncodeHintKey(h), EncodeHintValue(h));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->target, "node-2");
  EXPECT_EQ(back->key, h.key);
  EXPECT_EQ(back->value, "value");
  EXPECT_EQ(back->version, h.version);
  EXPECT_EQ(back->expiry_version, h.expiry_version);
  EXPECT_EQ(back->expire_at_ms, 99);
  EXPECT_TRUE(back->tombstone);
  EXPECT_EQ(back->stored_ms, 1234);
  EXPECT_FALSE(DecodeHint("short", EncodeHintValue(h)).ok());
  EXPECT_FALSE(DecodeHint(EncodeHintKey(h), "x").ok());
}

TEST_F(HintSpoolTest, HintsSurviveReopen) {
  {
    auto spool = OpenSpool();
    Store(*spool, {MakeHint("n2", "a", 10, "va"), MakeHint("n3", "b", 11, "vb")});
    EXPECT_EQ(spool->Stats().pending, 2u);
    EXPECT_EQ(counters_.stored.Value(), 2u);
  }  // closed, as after a crash the WAL is what remains (the write was synced)
  auto spool = OpenSpool();
  const SpoolStats s = spool->Stats();
  EXPECT_EQ(s.pending, 2u);
  EXPECT_EQ(s.pending_bytes, MakeHint("n2", "a", 10, "va").SpoolBytes() +
                                 MakeHint("n3", "b", 11, "vb").SpoolBytes());
  EXPECT_EQ(spool->Targets(), (std::vector<std::string>{"n2", "n3"}));
  auto n2 = spool->Next("n2", "", 10, counters_);
  ASSERT_TRUE(n2.ok());
  ASSERT_EQ(n2->size(), 1u);
  EXPECT_EQ((*n2)[0].key, "a");
  EXPECT_EQ((*n2)[0].value, "va");
  EXPECT_EQ((*n2)[0].stored_ms, clock_.NowMs());
  // Removed hints stay removed across a reopen.
  ASSERT_TRUE(spool->Remove(*n2, counters_).ok());
  spool.reset();
  spool = OpenSpool();
  EXPECT_EQ(spool->Stats().pending, 1u);
  EXPECT_EQ(spool->Targets(), (std::vector<std::string>{"n3"}));
}

TEST_F(HintSpoolTest, ReplaysPerTargetInVersionOrder) {
  auto spool = OpenSpool();
  // Stored out of order, mixed targets, one target's id a prefix of another's.
  Store(*spool, {MakeHint("n2", "c", 300), MakeHint("n22", "x", 1), MakeHint("n2", "a", 100)});
  Store(*spool,
        {MakeHint("n2", "b", 200), MakeHint("n1", "y", 5), MakeHint("n2", "a", 0x1'0000'0000ull)});
  auto all = spool->Next("n2", "", 100, counters_);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Keys(*all), (std::vector<std::string>{"a", "b", "c", "a"}));
  // Paged with a cursor.
  auto first = spool->Next("n2", "", 2, counters_);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Keys(*first), (std::vector<std::string>{"a", "b"}));
  auto rest = spool->Next("n2", EncodeHintKey(first->back()), 10, counters_);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(Keys(*rest), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ((*rest)[1].version.hlc, 0x1'0000'0000ull);
  EXPECT_EQ(Keys(*spool->Next("n22", "", 10, counters_)), (std::vector<std::string>{"x"}));
}

TEST_F(HintSpoolTest, TheSameHintIsHeldOnce) {
  const size_t one = MakeHint("n2", "a", 100).SpoolBytes();
  SpoolOptions options;
  options.max_bytes = 4 * one;
  auto spool = OpenSpool(options);
  Store(*spool, {MakeHint("n2", "a", 100), MakeHint("n2", "a", 100)});
  Store(*spool, {MakeHint("n2", "a", 100)});
  EXPECT_EQ(spool->Stats().pending, 1u);
  EXPECT_EQ(counters_.stored.Value(), 1u);
  EXPECT_EQ(spool->Stats().pending_bytes, one);
  // The duplicates' reservations were given back: three more fit, not one.
  EXPECT_EQ(spool->Admit(3 * one), nullptr);
}

TEST_F(HintSpoolTest, ExpiresByTheKeysTtl) {
  auto spool = OpenSpool();
  const int64_t now = clock_.NowMs();
  Store(*spool, {MakeHint("n2", "short", 1, "v", now + 1000),
                 MakeHint("n2", "long", 2, "v", now + 60'000), MakeHint("n2", "forever", 3)});
  clock_.Advance(1000);
  auto got = spool->Next("n2", "", 10, counters_);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Keys(*got), (std::vector<std::string>{"long", "forever"}));
  SpoolStats s = spool->Stats();
  EXPECT_EQ(counters_.expired.Value(), 1u);
  EXPECT_EQ(s.pending, 2u);
  // Sweep drops what expired without a read of that target.
  clock_.Advance(60'000);
  auto swept = spool->Sweep(counters_);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1u);
  s = spool->Stats();
  EXPECT_EQ(counters_.expired.Value(), 2u);
  EXPECT_EQ(s.pending, 1u);
  // Nothing else can expire: the sweep does not drop the hint without expiry.
  EXPECT_EQ(*spool->Sweep(counters_), 0u);
}

TEST_F(HintSpoolTest, ExpiresPastTheWindowEvenAfterReopen) {
  SpoolOptions options;
  options.window_ms = 3 * kHourMs;
  auto spool = OpenSpool(options);
  Store(*spool, {MakeHint("n2", "old", 1)});
  clock_.Advance(2 * kHourMs);
  Store(*spool, {MakeHint("n2", "young", 2)});
  EXPECT_EQ(spool->Stats().oldest_age_ms, 2 * kHourMs);
  spool.reset();
  spool = OpenSpool(options);
  clock_.Advance(kHourMs - 1);
  EXPECT_EQ(*spool->Sweep(counters_), 0u);
  clock_.Advance(1);
  EXPECT_EQ(*spool->Sweep(counters_), 1u);
  SpoolStats s = spool->Stats();
  EXPECT_EQ(counters_.expired.Value(), 1u);
  EXPECT_EQ(s.pending, 1u);
  EXPECT_EQ(s.oldest_age_ms, kHourMs);
  EXPECT_EQ(Keys(*spool->Next("n2", "", 10, counters_)), (std::vector<std::string>{"young"}));
}

TEST_F(HintSpoolTest, RefusesPastTheByteBoundAndWhenDisabled) {
  const size_t one = MakeHint("n2", "k1", 1, std::string(100, 'x')).SpoolBytes();
  SpoolOptions options;
  options.max_bytes = 2 * one + one / 2;
  auto spool = OpenSpool(options);
  Store(*spool, {MakeHint("n2", "k1", 1, std::string(100, 'x'))});
  // Admitted but not yet written counts too.
  EXPECT_EQ(spool->Admit(one), nullptr);
  EXPECT_NE(spool->Admit(one), nullptr);
  spool->Release(one);
  EXPECT_EQ(spool->Admit(one), nullptr);
  spool->Release(one);
  // Delivering frees room.
  auto got = spool->Next("n2", "", 10, counters_);
  ASSERT_TRUE(spool->Remove(*got, counters_).ok());
  EXPECT_EQ(spool->Stats().pending_bytes, 0u);
  EXPECT_EQ(counters_.replayed.Value(), 1u);
  EXPECT_EQ(spool->Admit(2 * one), nullptr);
  spool->Release(2 * one);
  // The bound holds across a reopen (the held bytes are counted again).
  Store(*spool, {MakeHint("n2", "k2", 2, std::string(100, 'x')),
                 MakeHint("n2", "k3", 3, std::string(100, 'x'))});
  spool.reset();
  spool = OpenSpool(options);
  EXPECT_NE(spool->Admit(one), nullptr);

  SpoolOptions disabled;
  disabled.window_ms = 0;
  spool.reset();
  spool = OpenSpool(disabled);
  EXPECT_STREQ(spool->Admit(1), "hints are disabled on this node (--hint-window 0)");
  // What an earlier run spooled is still there to deliver, and never expires by age.
  clock_.Advance(1000 * kHourMs);
  EXPECT_EQ(*spool->Sweep(counters_), 0u);
  EXPECT_EQ(spool->Stats().pending, 2u);
}

// The replayer and a decommission's hand-off can both remove one hint (each read it before the
// other removed it): it is forgotten once, and counted once.
TEST_F(HintSpoolTest, AHintRemovedTwiceIsForgottenOnce) {
  auto spool = OpenSpool();
  Store(*spool, {MakeHint("n2", "a", 1), MakeHint("n2", "b", 2), MakeHint("n3", "c", 3)});
  auto got = spool->Next("n2", "", 10, counters_);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  const std::vector<Hint> first{(*got)[0]};
  ASSERT_TRUE(spool->Remove(first, counters_).ok());
  ASSERT_TRUE(spool->Remove(*got, counters_).ok());  // "a" again, and "b"
  ASSERT_TRUE(spool->Drop((*got)[0], counters_).ok());
  EXPECT_EQ(counters_.replayed.Value(), 2u);
  EXPECT_EQ(counters_.rejected.Value(), 0u);
  EXPECT_EQ(spool->Stats().pending, 1u);
  EXPECT_EQ(spool->PendingFor("n2"), 0u);
  EXPECT_EQ(spool->PendingFor("n3"), 1u);
  EXPECT_EQ(spool->Targets(), std::vector<std::string>{"n3"});
}

TEST_F(HintSpoolTest, DropCountsRejected) {
  auto spool = OpenSpool();
  Store(*spool, {MakeHint("n2", "bad", 1)});
  auto got = spool->Next("n2", "", 10, counters_);
  ASSERT_TRUE(spool->Drop((*got)[0], counters_).ok());
  EXPECT_EQ(counters_.rejected.Value(), 1u);
  EXPECT_EQ(spool->Stats().pending, 0u);
  EXPECT_TRUE(spool->Targets().empty());
}

}  // namespace
}  // namespace shoal::node::hints
