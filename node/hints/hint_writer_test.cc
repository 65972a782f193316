#include "node/hints/hint_writer.h"

#include <gtest/gtest.h>

#include <mutex>

#include "node/hints/hint_test_util.h"

namespace shoal::node::hints {
namespace {

class HintWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spool = HintSpool::Open(dir_.path() + "/hints", SpoolOptions{}, clock_);
    ASSERT_TRUE(spool.ok()) << spool.status().ToString();
    spool_ = std::move(*spool);
  }
  HintWriter::Sink Collect() {
    return [this](std::span<const HintWriter::Result> results) {
      std::lock_guard<std::mutex> lock(mu_);
      groups_.push_back(results.size());
      for (const auto& r : results) {
        acked_.push_back(r.ticket.request_id);
        ok_.push_back(r.status.ok());
      }
    };
  }
  void Submit(HintWriter& writer, Hint hint, uint64_t request_id) {
    ASSERT_EQ(spool_->Admit(hint.SpoolBytes()), nullptr);
    writer.Submit(std::move(hint), HintTicket{1, 2, request_id, 64});
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<HintSpool> spool_;
  std::mutex mu_;
  std::vector<size_t> groups_;
  std::vector<uint64_t> acked_;
  std::vector<bool> ok_;
};

TEST_F(HintWriterTest, EverythingPendingIsOneSyncedGroup) {
  HintWriter writer(*spool_, Collect());  // not started: the test runs the groups
  Submit(writer, MakeHint("n2", "a", 1), 10);
  Submit(writer, MakeHint("n2", "b", 2), 11);
  Submit(writer, MakeHint("n3", "c", 3), 12);
  EXPECT_EQ(spool_->Stats().pending, 0u);  // nothing durable, nothing acknowledged yet
  EXPECT_TRUE(acked_.empty());
  EXPECT_EQ(writer.WriteQueuedForTest(), 3u);
  EXPECT_EQ(writer.stats().groups.Value(), 1u);
  EXPECT_EQ(groups_, (std::vector<size_t>{3}));
  EXPECT_EQ(acked_, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_EQ(ok_, (std::vector<bool>{true, true, true}));
  EXPECT_EQ(spool_->Stats().pending, 3u);
  EXPECT_EQ(writer.WriteQueuedForTest(), 0u);
  Submit(writer, MakeHint("n2", "d", 4), 13);
  EXPECT_EQ(writer.WriteQueuedForTest(), 1u);
  EXPECT_EQ(writer.stats().groups.Value(), 2u);
  EXPECT_EQ(writer.stats().largest_group.Value(), 3);
}

TEST_F(HintWriterTest, StopWritesWhatIsQueuedAndRefusesLaterHints) {
  HintWriter writer(*spool_, Collect());
  writer.Start();
  for (uint64_t i = 0; i < 200; ++i)
    Submit(writer, MakeHint("n2", "k" + std::to_string(i), i + 1), i);
  writer.Stop();
  EXPECT_EQ(acked_.size(), 200u);
  EXPECT_EQ(spool_->Stats().pending, 200u);
  EXPECT_LE(writer.stats().groups.Value(), 200u);
  // After Stop: failed at once, and the reservation is given back.
  const Hint late = MakeHint("n2", "late", 999);
  const uint64_t before = spool_->Stats().pending_bytes;
  Submit(writer, late, 500);
  EXPECT_EQ(acked_.back(), 500u);
  EXPECT_FALSE(ok_.back());
  EXPECT_EQ(spool_->Stats().pending, 200u);
  EXPECT_EQ(spool_->Stats().pending_bytes, before);
}

}  // namespace
}  // namespace shoal::node::hints
