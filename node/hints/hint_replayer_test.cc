#include "node/hints/hint_replayer.h"

#include <gtest/gtest.h>

#include <deque>

#include "node/hints/hint_test_util.h"

namespace shoal::node::hints {
namespace {

// What the fake targets received and how they answer.
struct FakeCluster {
  std::map<std::string, std::vector<Hint>> received;
  std::set<std::string> unreachable;
  std::deque<DeliveryOutcome> scripted;  // next answers (then kDelivered)
  bool break_next_deliver = false;
  int opens = 0;
};

class FakeSession final : public HintSession {
 public:
  FakeSession(FakeCluster& cluster, std::string target)
      : cluster_(cluster), target_(std::move(target)) {}
  Status Deliver(std::span<const Hint> hints, std::vector<DeliveryOutcome>* outcomes) override {
    if (cluster_.break_next_deliver) {
      cluster_.break_next_deliver = false;
      return Status::IOError("connection reset");
    }
    outcomes->clear();
    for (const Hint& h : hints) {
      DeliveryOutcome o = DeliveryOutcome::kDelivered;
      if (!cluster_.scripted.empty()) {
        o = cluster_.scripted.front();
        cluster_.scripted.pop_front();
      }
      if (o == DeliveryOutcome::kDelivered) cluster_.received[target_].push_back(h);
      outcomes->push_back(o);
    }
    return Status::Ok();
  }

 private:
  FakeCluster& cluster_;
  std::string target_;
};

class HintReplayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SpoolOptions spool_options;
    spool_options.window_ms = 3600 * 1000;
    auto spool = HintSpool::Open(dir_.path() + "/hints", spool_options, clock_);
    ASSERT_TRUE(spool.ok()) << spool.status().ToString();
    spool_ = std::move(*spool);
  }
  std::unique_ptr<HintReplayer> MakeReplayer(ReplayOptions options = {}) {
    return std::make_unique<HintReplayer>(
        *spool_,
        [this](const std::string& target) -> StatusOr<std::unique_ptr<HintSession>> {
          ++cluster_.opens;
          if (cluster_.unreachable.count(target)) return Status::IOError("connection refused");
          return std::unique_ptr<HintSession>(new FakeSession(cluster_, target));
        },
        clock_, options);
  }
  void Store(std::vector<Hint> hints) {
    for (const Hint& h : hints) ASSERT_EQ(spool_->Admit(h.SpoolBytes()), nullptr);
    ASSERT_TRUE(spool_->Append(hints, writer_counters_).ok());
  }
  std::vector<std::string> Received(const std::string& target) {
    std::vector<std::string> out;
    for (const Hint& h : cluster_.received[target]) out.push_back(h.key);
    return out;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<HintSpool> spool_;
  FakeCluster cluster_;
  SpoolCounters writer_counters_;  // Store's, as the node's writer thread holds them
};

TEST_F(HintReplayerTest, DeliversEachTargetsHintsInVersionOrderAndRemovesThem) {
  Store({MakeHint("n2", "c", 30), MakeHint("n3", "x", 5), MakeHint("n2", "a", 10)});
  Store({MakeHint("n2", "b", 20)});
  auto replayer = MakeReplayer();
  while (spool_->Stats().pending > 0) ASSERT_EQ(replayer->RunOnce(), 0);
  EXPECT_EQ(Received("n2"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Received("n3"), (std::vector<std::string>{"x"}));
  const Hint& a = cluster_.received["n2"][0];
  EXPECT_EQ(a.version, (Version{10, 7}));
  EXPECT_EQ(a.expiry_version, (Version{10, 7}));
  EXPECT_EQ(replayer->spool_counters().replayed.Value(), 4u);
  EXPECT_TRUE(spool_->Targets().empty());
  // Nothing left: the replayer idles.
  EXPECT_EQ(replayer->RunOnce(), ReplayOptions{}.idle_wait_ms);
}

TEST_F(HintReplayerTest, HintsArrivingBehindTheCursorAreDeliveredNextRound) {
  ReplayOptions options;
  options.max_batch = 1;
  options.rate_per_s = 1'000'000;
  Store({MakeHint("n2", "b", 20), MakeHint("n2", "c", 30)});
  auto replayer = MakeReplayer(options);
  replayer->RunOnce();  // delivers b, cursor after b
  Store({MakeHint("n2", "a", 10)});
  for (int i = 0; i < 5 && spool_->Stats().pending > 0; ++i) {
    clock_.Advance(1);  // a token a millisecond
    replayer->RunOnce();
  }
  EXPECT_EQ(spool_->Stats().pending, 0u);
  EXPECT_EQ(Received("n2"), (std::vector<std::string>{"b", "c", "a"}));
}

TEST_F(HintReplayerTest, UnreachableTargetIsRetriedWithBackoffAndKeepsItsHints) {
  ReplayOptions options;
  options.backoff_min_ms = 100;
  options.backoff_max_ms = 350;
  Store({MakeHint("n2", "a", 10)});
  cluster_.unreachable.insert("n2");
  auto replayer = MakeReplayer(options);
  EXPECT_EQ(replayer->RunOnce(), 100);
  EXPECT_EQ(cluster_.opens, 1);
  clock_.Advance(99);
  EXPECT_EQ(replayer->RunOnce(), 1);
  EXPECT_EQ(cluster_.opens, 1);  // still backing off
  clock_.Advance(1);
  EXPECT_EQ(replayer->RunOnce(), 200);  // doubled
  clock_.Advance(200);
  EXPECT_EQ(replayer->RunOnce(), 350);  // capped
  EXPECT_EQ(cluster_.opens, 3);
  EXPECT_EQ(spool_->Stats().pending, 1u);
  EXPECT_EQ(replayer->stats().failures.Value(), 3u);
  cluster_.unreachable.clear();
  clock_.Advance(350);
  EXPECT_EQ(replayer->RunOnce(), 0);
  EXPECT_EQ(Received("n2"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(spool_->Stats().pending, 0u);
}

TEST_F(HintReplayerTest, RetryAnswerKeepsTheHintAndRejectedDropsIt) {
  ReplayOptions options;
  options.backoff_min_ms = 100;
  Store({MakeHint("n2", "a", 10), MakeHint("n2", "b", 20), MakeHint("n2", "c", 30)});
  // a: retry later (e.g. NotReady), b: refused for good (BadRequest), c: applied.
  cluster_.scripted = {DeliveryOutcome::kRetry, DeliveryOutcome::kRejected,
                       DeliveryOutcome::kDelivered};
  auto replayer = MakeReplayer(options);
  EXPECT_EQ(replayer->RunOnce(), 100);
  EXPECT_EQ(Received("n2"), (std::vector<std::string>{"c"}));
  SpoolStats s = spool_->Stats();
  EXPECT_EQ(s.pending, 1u);
  EXPECT_EQ(replayer->spool_counters().rejected.Value(), 1u);
  EXPECT_EQ(replayer->spool_counters().replayed.Value(), 1u);
  clock_.Advance(100);
  replayer->RunOnce();
  EXPECT_EQ(Received("n2"), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(spool_->Stats().pending, 0u);
}

TEST_F(HintReplayerTest, BrokenSessionDeliversNothingAndReconnects) {
  ReplayOptions options;
  options.backoff_min_ms = 100;
  Store({MakeHint("n2", "a", 10)});
  cluster_.break_next_deliver = true;
  auto replayer = MakeReplayer(options);
  EXPECT_EQ(replayer->RunOnce(), 100);
  EXPECT_EQ(spool_->Stats().pending, 1u);
  clock_.Advance(100);
  replayer->RunOnce();
  EXPECT_EQ(cluster_.opens, 2);
  EXPECT_EQ(spool_->Stats().pending, 0u);
}

TEST_F(HintReplayerTest, RateLimitsDelivery) {
  ReplayOptions options;
  options.rate_per_s = 20;  // bucket of 2, one token every 50 ms
  std::vector<Hint> hints;
  for (int i = 0; i < 10; ++i) hints.push_back(MakeHint("n2", "k" + std::to_string(i), i + 1));
  Store(hints);
  auto replayer = MakeReplayer(options);
  EXPECT_EQ(replayer->RunOnce(), 0);
  EXPECT_EQ(Received("n2").size(), 2u);
  EXPECT_EQ(replayer->RunOnce(), 50);  // the bucket is empty
  EXPECT_EQ(Received("n2").size(), 2u);
  clock_.Advance(50);
  replayer->RunOnce();
  EXPECT_EQ(Received("n2").size(), 3u);
  clock_.Advance(1000);  // a long pause refills only the bucket, not a second's worth
  replayer->RunOnce();
  replayer->RunOnce();
  EXPECT_EQ(Received("n2").size(), 5u);
}

TEST_F(HintReplayerTest, SetRateChangesTheRateFromTheNextPass) {
  ReplayOptions options;
  options.rate_per_s = 20;  // bucket of 2, one token every 50 ms
  std::vector<Hint> hints;
  for (int i = 0; i < 30; ++i) hints.push_back(MakeHint("n2", "k" + std::to_string(i), i + 1));
  Store(hints);
  auto replayer = MakeReplayer(options);
  replayer->RunOnce();
  EXPECT_EQ(Received("n2").size(), 2u);
  EXPECT_EQ(replayer->RunOnce(), 50);  // the bucket is empty
  // A reload raises the rate: 1000/s, a bucket of 100, one token every ms.
  replayer->SetRate(1000);
  EXPECT_EQ(replayer->RunOnce(), 1);
  clock_.Advance(10);
  replayer->RunOnce();
  EXPECT_EQ(Received("n2").size(), 12u);  // 10 ms at 1000/s; at 20/s it would have been none
  clock_.Advance(1000);
  replayer->RunOnce();
  replayer->RunOnce();
  EXPECT_EQ(Received("n2").size(), 30u);
  // Lowered again: the bucket shrinks to 1 at once (10/s: a token every 100 ms).
  std::vector<Hint> more;
  for (int i = 0; i < 5; ++i) more.push_back(MakeHint("n2", "m" + std::to_string(i), 100 + i));
  Store(more);
  replayer->SetRate(10);
  replayer->RunOnce();
  EXPECT_EQ(Received("n2").size(), 31u);  // the one token the shrunk bucket holds
  EXPECT_EQ(replayer->RunOnce(), 100);
  clock_.Advance(50);
  replayer->RunOnce();
  EXPECT_EQ(Received("n2").size(), 31u);
  clock_.Advance(50);
  replayer->RunOnce();
  EXPECT_EQ(Received("n2").size(), 32u);
}

TEST_F(HintReplayerTest, ExpiredHintsAreDroppedNotDelivered) {
  const int64_t now = clock_.NowMs();
  Store({MakeHint("n2", "ttl", 10, "v", now + 500), MakeHint("n2", "keep", 20)});
  cluster_.unreachable.insert("n2");
  auto replayer = MakeReplayer();
  replayer->RunOnce();
  clock_.Advance(600);  // the key's expiry passed while the target was down
  cluster_.unreachable.clear();
  replayer->RunOnce();
  EXPECT_EQ(Received("n2"), (std::vector<std::string>{"keep"}));
  EXPECT_EQ(replayer->spool_counters().expired.Value(), 1u);

  // Past the window (1 h here): dropped by the sweep while the target stays down.
  Store({MakeHint("n3", "late", 30)});
  cluster_.unreachable.insert("n3");
  clock_.Advance(3600 * 1000);
  replayer->RunOnce();
  EXPECT_EQ(replayer->spool_counters().expired.Value(), 2u);
  EXPECT_EQ(spool_->Stats().pending, 0u);
}

}  // namespace
}  // namespace shoal::node::hints
