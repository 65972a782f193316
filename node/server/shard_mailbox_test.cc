#include "node/server/shard_mailbox.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace shoal::node {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(MessageBatchTest, RoundTripsMessages) {
  MessageBatch batch;
  batch.Append(ShardMessageKind::kRequest, 3, 42, Bytes("frame-one"));
  batch.Append(ShardMessageKind::kResponse, 0, 7, Bytes(""));
  batch.Append(ShardMessageKind::kResponse, 1, ~0ull, Bytes(std::string(10'000, 'z')));
  EXPECT_EQ(batch.count(), 3u);
  std::vector<ShardMessage> seen;
  std::vector<std::string> frames;
  batch.ForEach([&](const ShardMessage& m) {
    seen.push_back(m);
    frames.emplace_back(reinterpret_cast<const char*>(m.frame.data()), m.frame.size());
  });
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].kind, ShardMessageKind::kRequest);
  EXPECT_EQ(seen[0].origin_shard, 3u);
  EXPECT_EQ(seen[0].conn_id, 42u);
  EXPECT_EQ(frames[0], "frame-one");
  EXPECT_EQ(seen[1].kind, ShardMessageKind::kResponse);
  EXPECT_EQ(frames[1], "");
  EXPECT_EQ(seen[2].conn_id, ~0ull);
  EXPECT_EQ(frames[2], std::string(10'000, 'z'));
  batch.Clear();
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.count(), 0u);
}

// A request frame is read in place on the receiving shard (FlatBuffers reads its u64 fields
// through typed pointers): whatever the lengths before it, each frame in a batch starts 8-aligned.
TEST(MessageBatchTest, EveryFrameStartsAligned) {
  MessageBatch batch;
  MessageBatch other;
  for (size_t len = 0; len < 40; ++len) {
    batch.Append(ShardMessageKind::kRequest, 1, len, Bytes(std::string(len, 'a')));
    other.Append(ShardMessageKind::kResponse, 2, len, Bytes(std::string(len + 3, 'b')));
  }
  batch.AppendAll(other);
  size_t seen = 0;
  batch.ForEach([&](const ShardMessage& m) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.frame.data()) % 8, 0u) << "message " << seen;
    EXPECT_EQ(m.frame.size(), m.conn_id + (m.kind == ShardMessageKind::kResponse ? 3 : 0));
    ++seen;
  });
  EXPECT_EQ(seen, 80u);
}

struct Owner {
  uv_loop_t loop;
  ShardMailbox mailbox;
  MessageBatch work;
  std::vector<std::vector<uint64_t>> received_by_sender;
};

void Drain(Owner* owner) {
  owner->mailbox.Take(owner->work);
  owner->work.ForEach([&](const ShardMessage& m) {
    owner->received_by_sender[m.origin_shard].push_back(m.conn_id);
  });
  owner->work.Clear();
}

void OnWake(uv_async_t* async) {
  auto* owner = static_cast<Owner*>(async->data);
  Drain(owner);
  if (owner->mailbox.stop_requested()) {
    // Posts that landed while the batch above was handled (all of them precede the stop).
    Drain(owner);
    owner->mailbox.Close();
  }
}

// Several threads post batches concurrently; every message arrives exactly once, in each
// sender's order, and posting after Close() is refused.
TEST(ShardMailboxTest, DeliversEveryMessageInSenderOrder) {
  constexpr int kSenders = 3;
  constexpr uint64_t kPerSender = 20'000;
  Owner owner;
  owner.received_by_sender.resize(kSenders);
  ASSERT_EQ(uv_loop_init(&owner.loop), 0);
  ASSERT_EQ(owner.mailbox.Open(&owner.loop, OnWake, &owner), 0);
  std::thread loop_thread([&] { uv_run(&owner.loop, UV_RUN_DEFAULT); });

  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      MessageBatch batch;
      for (uint64_t i = 0; i < kPerSender; ++i) {
        batch.Append(ShardMessageKind::kRequest, s, i, Bytes("payload"));
        if (i % 7 == 0) {
          ASSERT_TRUE(owner.mailbox.Post(batch));
        }
      }
      ASSERT_TRUE(owner.mailbox.Post(batch));
    });
  }
  for (auto& t : senders) t.join();
  owner.mailbox.RequestStop();
  loop_thread.join();
  EXPECT_EQ(uv_loop_close(&owner.loop), 0);

  for (int s = 0; s < kSenders; ++s) {
    ASSERT_EQ(owner.received_by_sender[s].size(), kPerSender) << "sender " << s;
    for (uint64_t i = 0; i < kPerSender; ++i) ASSERT_EQ(owner.received_by_sender[s][i], i);
  }
  MessageBatch late;
  late.Append(ShardMessageKind::kResponse, 0, 1, Bytes("late"));
  EXPECT_FALSE(owner.mailbox.Post(late));
  EXPECT_TRUE(late.empty());
}

}  // namespace
}  // namespace shoal::node

namespace shoal::node {
namespace {

TEST(MessageBatchMemoryTest, AnEmptiedBatchKeepsAtMostKeepBytes) {
  MessageBatch batch;
  const std::vector<uint8_t> big(4u << 20, 7);
  batch.Append(ShardMessageKind::kRequest, 0, 1, big, 0);
  EXPECT_GE(batch.capacity(), big.size());
  batch.Clear();
  EXPECT_LE(batch.capacity(), MessageBatch::kKeepBytes);
  const std::vector<uint8_t> small(1000, 7);
  batch.Append(ShardMessageKind::kResponse, 1, 2, small, 123);
  batch.ForEach([](const ShardMessage& m) {
    EXPECT_EQ(m.request_bytes, 123u);
    EXPECT_EQ(m.conn_id, 2u);
    EXPECT_EQ(m.frame.size(), 1000u);
  });
  batch.Clear();
  EXPECT_GT(batch.capacity(), 0u);  // small storage is kept for reuse
}

}  // namespace
}  // namespace shoal::node
