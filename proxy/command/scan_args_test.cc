#include "proxy/command/scan_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shoal::proxy {
namespace {

std::string Parse(std::vector<std::string_view> args, ScanArgs* out) {
  return ParseScanArgs(args, out);
}

TEST(ScanCursorTest, RoundTripsEveryField) {
  const ScanCursor c{7, 3, (uint64_t{5} << 40) | 12345};
  const ScanCursor d = ScanCursor::Decode(c.Encode());
  EXPECT_EQ(d.position, 7u);
  EXPECT_EQ(d.substitute, 3u);
  EXPECT_EQ(d.node_cursor, c.node_cursor);
  EXPECT_EQ(ScanCursor{}.Encode(), 0u);
  EXPECT_EQ(ScanCursor::Decode(0).position, 0u);
}

TEST(ScanArgsTest, ParsesOptionsInAnyOrder) {
  ScanArgs a;
  ASSERT_EQ(Parse({"17", "MATCH", "user:*", "count", "100", "TYPE", "string"}, &a), "");
  EXPECT_EQ(a.cursor, 17u);
  EXPECT_EQ(a.count, 100);
  EXPECT_EQ(a.pattern, "user:*");
  EXPECT_EQ(a.type, "string");
  ASSERT_EQ(Parse({"0", "MATCH", "*"}, &a), "");
  EXPECT_TRUE(a.pattern.empty());
  EXPECT_EQ(a.count, 10);
}

TEST(ScanArgsTest, RedisErrors) {
  ScanArgs a;
  EXPECT_EQ(Parse({"abc"}, &a), "ERR invalid cursor");
  EXPECT_EQ(Parse({" 1"}, &a), "ERR invalid cursor");
  EXPECT_EQ(Parse({"18446744073709551616"}, &a), "ERR invalid cursor");
  EXPECT_EQ(Parse({"0", "COUNT", "0"}, &a), "ERR syntax error");
  EXPECT_EQ(Parse({"0", "COUNT", "x"}, &a), "ERR value is not an integer or out of range");
  EXPECT_EQ(Parse({"0", "MATCH"}, &a), "ERR syntax error");
  EXPECT_EQ(Parse({"0", "FOO", "bar"}, &a), "ERR syntax error");
}

TEST(ScanArgsTest, CursorAsStrtoul) {
  ScanArgs a;
  ASSERT_EQ(Parse({"-1"}, &a), "");
  EXPECT_EQ(a.cursor, UINT64_MAX);
  ASSERT_EQ(Parse({""}, &a), "");
  EXPECT_EQ(a.cursor, 0u);
  ASSERT_EQ(Parse({"+5"}, &a), "");
  EXPECT_EQ(a.cursor, 5u);
}

}  // namespace
}  // namespace shoal::proxy
