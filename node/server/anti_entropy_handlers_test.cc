// MergeKeyVersionsParts: the shards' parts merged into one KeyVersionsResponse the asker can
// verify, or TooLarge (so that the asker asks for fewer slices), or a shard's refusal.

#include "node/server/anti_entropy_handlers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/wire/frame.h"
#include "node/server/request_executor.h"

namespace shoal::node {
namespace {

// A part as a shard builds it: a KeyVersionsResponse frame listing keys `first` .. `first+n-1`.
std::vector<uint8_t> Part(int first, int n) {
  FrameBuilder fb(1024);
  auto& b = fb.Start();
  std::vector<flatbuffers::Offset<wire::KeyVersion>> entries;
  for (int i = first; i < first + n; ++i) {
    const wire::Version v(static_cast<uint64_t>(i + 1) << 16, 7);
    entries.push_back(
        wire::CreateKeyVersion(b, Bytes(b, "k" + std::to_string(i)), &v, &v, false, 0));
  }
  auto resp = wire::CreateKeyVersionsResponse(b, b.CreateVector(entries));
  auto frame = fb.Finish(1, wire::Message::KeyVersionsResponse, resp.Union());
  return {frame.begin(), frame.end()};
}

// Decodes `frame` as the asker's client does (verification included).
const wire::Envelope* Decode(std::span<const uint8_t> frame, std::vector<uint8_t>* copy) {
  copy->assign(frame.begin(), frame.end());
  DecodedFrame out;
  if (DecodeFrame(copy->data(), copy->size(), kDefaultMaxFrameBytes, &out) != FrameStatus::kOk) {
    return nullptr;
  }
  return out.envelope;
}

TEST(MergeKeyVersionsPartsTest, AsManyEntriesAsAFrameMayHoldTablesAndNoMore) {
  constexpr int kMost = static_cast<int>(kMaxFrameTables) - 2;  // the envelope, the response
  FrameBuilder fb(1024);
  std::vector<uint8_t> copy;
  // At the limit (split over two shards): one verifiable response with every key once.
  const wire::Envelope* env =
      Decode(MergeKeyVersionsParts({Part(0, kMost / 2), Part(kMost / 2, kMost - kMost / 2)}, 9,
                                   kDefaultMaxFrameBytes, fb),
             &copy);
  ASSERT_NE(env, nullptr);
  const wire::KeyVersionsResponse* r = env->message_as_KeyVersionsResponse();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(env->request_id(), 9u);
  EXPECT_EQ(r->entries()->size(), static_cast<uint32_t>(kMost));
  // One more key: TooLarge (before, the asker's verifier refused the frame as corrupt).
  env = Decode(MergeKeyVersionsParts({Part(0, kMost / 2), Part(kMost / 2, kMost - kMost / 2 + 1)},
                                     9, kDefaultMaxFrameBytes, fb),
               &copy);
  ASSERT_NE(env, nullptr);
  const wire::Error* e = env->message_as_Error();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code(), wire::ErrorCode::TooLarge);
  EXPECT_NE(e->message()->str().find("ask for fewer slices"), std::string::npos);
  // A byte limit applies too.
  env = Decode(MergeKeyVersionsParts({Part(0, 100)}, 9, 1000, fb), &copy);
  ASSERT_NE(env, nullptr);
  ASSERT_NE(env->message_as_Error(), nullptr);
  EXPECT_EQ(env->message_as_Error()->code(), wire::ErrorCode::TooLarge);
}

TEST(MergeKeyVersionsPartsTest, AShardsRefusalIsTheAnswer) {
  FrameBuilder shard(256);
  auto refusal = BuildErrorFrame(shard, 9, wire::ErrorCode::WrongRing, "ring changed");
  std::vector<uint8_t> part(refusal.begin(), refusal.end());
  FrameBuilder fb(1024);
  std::vector<uint8_t> copy;
  const wire::Envelope* env =
      Decode(MergeKeyVersionsParts({Part(0, 10), part}, 9, kDefaultMaxFrameBytes, fb), &copy);
  ASSERT_NE(env, nullptr);
  const wire::Error* e = env->message_as_Error();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code(), wire::ErrorCode::WrongRing);
  EXPECT_EQ(e->message()->str(), "ring changed");
  EXPECT_EQ(env->request_id(), 9u);
}

}  // namespace
}  // namespace shoal::node
