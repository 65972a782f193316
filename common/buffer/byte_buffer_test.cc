#include "common/buffer/byte_buffer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include <string>

namespace shoal {
namespace {

std::string Contents(const ByteBuffer& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

void AppendString(ByteBuffer& b, const std::string& s) {
  b.Append(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

TEST(ByteBufferTest, AppendConsumeKeepsOrder) {
  ByteBuffer b;
  EXPECT_TRUE(b.empty());
  AppendString(b, "hello ");
  AppendString(b, "world");
  EXPECT_EQ(Contents(b), "hello world");
  b.Consume(6);
  EXPECT_EQ(Contents(b), "world");
  b.Consume(5);
  EXPECT_TRUE(b.empty());
}

TEST(ByteBufferTest, PrepareWriteGivesAtLeastWhatIsAsked) {
  ByteBuffer b;
  auto span = b.PrepareWrite(1000);
  EXPECT_GE(span.size(), 1000u);
  std::memcpy(span.data(), "abc", 3);
  b.Commit(3);
  EXPECT_EQ(Contents(b), "abc");
  EXPECT_GE(b.PrepareWrite(5000).size(), 5000u);
  EXPECT_EQ(Contents(b), "abc");
}

TEST(ByteBufferTest, CompactsInsteadOfGrowingWhenTheHeadIsSpent) {
  ByteBuffer b;
  b.PrepareWrite(1024);
  const size_t capacity = b.capacity();
  std::string chunk(capacity - 10, 'x');
  AppendString(b, chunk);
  b.Consume(capacity - 20);  // 10 bytes left, at the end of the storage
  auto span = b.PrepareWrite(capacity / 2);
  EXPECT_GE(span.size(), capacity / 2);
  EXPECT_EQ(b.capacity(), capacity);  // moved to the front, not grown
  EXPECT_EQ(Contents(b), std::string(10, 'x'));
}

TEST(ByteBufferTest, ReleaseIfIdleOnlyWhenEmptyAndLarge) {
  ByteBuffer b;
  AppendString(b, std::string(100'000, 'y'));
  b.ReleaseIfIdle(1024);
  EXPECT_EQ(b.size(), 100'000u);  // not empty: kept
  b.Consume(100'000);
  b.ReleaseIfIdle(1'000'000);
  EXPECT_GT(b.capacity(), 0u);  // small enough: kept
  b.ReleaseIfIdle(1024);
  EXPECT_EQ(b.capacity(), 0u);
  AppendString(b, "again");
  EXPECT_EQ(Contents(b), "again");
}

TEST(ByteBufferTest, Swap) {
  ByteBuffer a, b;
  AppendString(a, "aa");
  AppendString(b, "bbb");
  a.swap(b);
  EXPECT_EQ(Contents(a), "bbb");
  EXPECT_EQ(Contents(b), "aa");
}

TEST(ByteBufferTest, ReadsFromAndWritesToFds) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK), 0);
  ByteBuffer out;
  out.Append(std::string_view("hello, pipe"));
  EXPECT_EQ(out.WriteTo(fds[1]), 11);
  EXPECT_TRUE(out.empty());  // what was written is consumed

  ByteBuffer in;
  EXPECT_EQ(in.ReadFrom(fds[0], 4), 11);
  EXPECT_EQ(Contents(in), "hello, pipe");
  EXPECT_EQ(in.ReadFrom(fds[0], 4), -1);  // nothing more: EAGAIN
  EXPECT_EQ(errno, EAGAIN);
  close(fds[1]);
  EXPECT_EQ(in.ReadFrom(fds[0], 4), 0);  // end of stream
  EXPECT_EQ(Contents(in), "hello, pipe");
  close(fds[0]);
}

}  // namespace
}  // namespace shoal
