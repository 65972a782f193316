#include "proxy/command/lcs.h"

#include <gtest/gtest.h>

#include <string>

namespace shoal::proxy {
namespace {

std::string Reply(std::string_view a, std::string_view b, LcsOptions o = {}) {
  std::string out;
  EXPECT_TRUE(AppendLcsReply(out, resp::Protocol::kResp2, a, b, o));
  return out;
}

// Redis's documentation example (LCS key1 key2 with ohmytext / mynewtext), replies as redis-server
// 7.0 sends them to a RESP2 client.
TEST(LcsTest, PlainAndLen) {
  EXPECT_EQ(Reply("ohmytext", "mynewtext"), "$6\r\nmytext\r\n");
  LcsOptions len;
  len.len = true;
  EXPECT_EQ(Reply("ohmytext", "mynewtext", len), ":6\r\n");
  EXPECT_EQ(Reply("", "abc"), "$0\r\n\r\n");
  EXPECT_EQ(Reply("", "", len), ":0\r\n");
}

TEST(LcsTest, IdxListsRangesFromTheEnd) {
  LcsOptions o;
  o.idx = true;
  EXPECT_EQ(Reply("ohmytext", "mynewtext", o),
            "*4\r\n$7\r\nmatches\r\n*2\r\n"
            "*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
            "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n"
            "$3\r\nlen\r\n:6\r\n");
  o.min_match_len = 4;
  o.with_match_len = true;
  EXPECT_EQ(Reply("ohmytext", "mynewtext", o),
            "*4\r\n$7\r\nmatches\r\n*1\r\n"
            "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
            "$3\r\nlen\r\n:6\r\n");
}

TEST(LcsTest, IdxIsAMapForResp3) {
  LcsOptions o;
  o.idx = true;
  o.min_match_len = 4;
  std::string out;
  EXPECT_TRUE(AppendLcsReply(out, resp::Protocol::kResp3, "ohmytext", "mynewtext", o));
  EXPECT_EQ(out,
            "%2\r\n$7\r\nmatches\r\n*1\r\n"
            "*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
            "$3\r\nlen\r\n:6\r\n");
}

TEST(LcsTest, RefusesTablesPastTheLimit) {
  std::string out;
  const std::string big(5000, 'a');
  EXPECT_FALSE(AppendLcsReply(out, resp::Protocol::kResp2, big, big, {}));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace shoal::proxy
