#include "proxy/resp/reply.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace shoal::proxy::resp {
namespace {

// Every RESP3 type in both protocols, byte for byte as Redis 7.0's addReply* functions write them.
std::string Write(Protocol p, void (*f)(Writer&)) {
  std::string out;
  Writer w(out, p);
  f(w);
  return out;
}

TEST(ReplyWriterTest, NullsDifferByProtocol) {
  EXPECT_EQ(Write(Protocol::kResp2, [](Writer& w) { w.Null(); }), "$-1\r\n");
  EXPECT_EQ(Write(Protocol::kResp3, [](Writer& w) { w.Null(); }), "_\r\n");
  EXPECT_EQ(Write(Protocol::kResp2, [](Writer& w) { w.NullArray(); }), "*-1\r\n");
  EXPECT_EQ(Write(Protocol::kResp3, [](Writer& w) { w.NullArray(); }), "_\r\n");
}

TEST(ReplyWriterTest, MapIsAFlatArrayInResp2) {
  auto f = [](Writer& w) {
    w.Map(2);
    w.Bulk("a");
    w.Integer(1);
    w.Bulk("b");
    w.Null();
  };
  EXPECT_EQ(Write(Protocol::kResp2, f), "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$-1\r\n");
  EXPECT_EQ(Write(Protocol::kResp3, f), "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n_\r\n");
}

TEST(ReplyWriterTest, SetIsAnArrayInResp2) {
  auto f = [](Writer& w) {
    w.Set(1);
    w.Bulk("m");
  };
  EXPECT_EQ(Write(Protocol::kResp2, f), "*1\r\n$1\r\nm\r\n");
  EXPECT_EQ(Write(Protocol::kResp3, f), "~1\r\n$1\r\nm\r\n");
}

TEST(ReplyWriterTest, DoublesAsRedis70) {
  EXPECT_EQ(Write(Protocol::kResp3, [](Writer& w) { w.Double(1.5); }), ",1.5\r\n");
  EXPECT_EQ(Write(Protocol::kResp2, [](Writer& w) { w.Double(1.5); }), "$3\r\n1.5\r\n");
  EXPECT_EQ(Write(Protocol::kResp3, [](Writer& w) { w.Double(0.1); }), ",0.10000000000000001\r\n");
  EXPECT_EQ(
      Write(Protocol::kResp3, [](Writer& w) { w.Double(std::numeric_limits<double>::infinity()); }),
      ",inf\r\n");
  EXPECT_EQ(Write(Protocol::kResp2,
                  [](Writer& w) { w.Double(-std::numeric_limits<double>::infinity()); }),
            "$4\r\n-inf\r\n");
  EXPECT_EQ(Write(Protocol::kResp3, [](Writer& w) { w.Double(3); }), ",3\r\n");
}

TEST(ReplyWriterTest, BoolsBigNumbersVerbatim) {
  EXPECT_EQ(Write(Protocol::kResp3, [](Writer& w) { w.Bool(true); }), "#t\r\n");
  EXPECT_EQ(Write(Protocol::kResp3, [](Writer& w) { w.Bool(false); }), "#f\r\n");
  EXPECT_EQ(Write(Protocol::kResp2, [](Writer& w) { w.Bool(true); }), ":1\r\n");
  EXPECT_EQ(Write(Protocol::kResp3, [](Writer& w) { w.BigNumber("-123456789012345678901"); }),
            "(-123456789012345678901\r\n");
  EXPECT_EQ(Write(Protocol::kResp2, [](Writer& w) { w.BigNumber("12"); }), "$2\r\n12\r\n");
  EXPECT_EQ(Write(Protocol::kResp3, [](Writer& w) { w.Verbatim("a:1\r\n"); }),
            "=9\r\ntxt:a:1\r\n\r\n");
  EXPECT_EQ(Write(Protocol::kResp2, [](Writer& w) { w.Verbatim("a:1\r\n"); }), "$5\r\na:1\r\n\r\n");
}

TEST(ReplyWriterTest, SameTypesInBothProtocols) {
  for (Protocol p : {Protocol::kResp2, Protocol::kResp3}) {
    EXPECT_EQ(Write(p, [](Writer& w) { w.Integer(-7); }), ":-7\r\n");
    EXPECT_EQ(Write(p, [](Writer& w) { w.Bulk("x"); }), "$1\r\nx\r\n");
    EXPECT_EQ(Write(p, [](Writer& w) { w.Simple("string"); }), "+string\r\n");
    EXPECT_EQ(Write(p, [](Writer& w) { w.Ok(); }), "+OK\r\n");
    EXPECT_EQ(Write(p, [](Writer& w) { w.Error("ERR a\nb"); }), "-ERR a b\r\n");
    EXPECT_EQ(Write(p, [](Writer& w) { w.Array(0); }), "*0\r\n");
  }
}

}  // namespace
}  // namespace shoal::proxy::resp
