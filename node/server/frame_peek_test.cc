#include "node/server/frame_peek.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/wire/frame.h"

namespace shoal::node {
namespace {

std::vector<uint8_t> PutFrame(uint64_t id, size_t value_bytes) {
  FrameBuilder fb;
  auto& b = fb.Start();
  const std::string value(value_bytes, 'v');
  auto put = wire::CreatePut(b, Bytes(b, "key"), Bytes(b, value));
  auto frame = fb.Finish(id, wire::Message::Put, put.Union());
  return {frame.begin(), frame.end()};
}

TEST(FramePeekTest, ReadsTheIdOfALargeFrameFromItsBeginning) {
  const auto frame = PutFrame(0x1122334455667788ull, 100'000);
  auto id = PeekRequestId(frame.data(), kPeekFrameBytes);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, 0x1122334455667788ull);
}

TEST(FramePeekTest, ZeroIdIsTheDefault) {
  const auto frame = PutFrame(0, 10'000);
  auto id = PeekRequestId(frame.data(), kPeekFrameBytes);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, 0u);
}

TEST(FramePeekTest, TooFewBytesOrGarbageGiveNothing) {
  const auto frame = PutFrame(7, 10'000);
  EXPECT_FALSE(PeekRequestId(frame.data(), 6).has_value());
  std::vector<uint8_t> garbage(kPeekFrameBytes, 0xff);
  EXPECT_FALSE(PeekRequestId(garbage.data(), garbage.size()).has_value());
  // Every truncation is safe (bounds checked), whatever it returns.
  for (size_t n = 0; n < 64; ++n) PeekRequestId(frame.data(), n);
}

}  // namespace
}  // namespace shoal::node
