#include "proxy/resp/parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::proxy {
namespace {

using namespace std::string_literals;
using Result = RespParser::Result;
using Args = std::vector<std::string>;

Args Copy(const std::vector<std::string_view>& views) { return Args(views.begin(), views.end()); }

bool Inside(std::string_view view, const char* begin, size_t size) {
  return view.data() >= begin && view.data() + view.size() <= begin + size;
}

// What a connection sees when it feeds `input` to one parser.
struct Outcome {
  std::vector<Args> commands;
  Result last = Result::kNeedMore;  // kNeedMore: input ran out; kError: protocol error
  std::string error;

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << o.commands.size() << " commands [";
  for (const Args& args : o.commands) {
    os << "(";
    for (const std::string& arg : args) os << testing::PrintToString(arg) << " ";
    os << ")";
  }
  return os << "] last=" << static_cast<int>(o.last) << " error=" << o.error;
}

// Feeds `input` to a parser the way a connection does, `chunk` bytes per read. After every
// kNeedMore the unconsumed bytes move to a fresh allocation and the old one is scribbled over
// and freed, so a parser that kept pointers instead of offsets would see garbage.
Outcome FeedInChunks(std::string_view input, size_t chunk, const RespLimits& limits = {}) {
  RespParser parser(limits);
  Outcome outcome;
  std::unique_ptr<char[]> buffer;
  size_t buffered = 0;
  size_t fed = 0;
  while (fed < input.size()) {
    const size_t take = std::min(chunk, input.size() - fed);
    auto grown = std::make_unique<char[]>(buffered + take);
    if (buffered > 0) {
      memcpy(grown.get(), buffer.get(), buffered);
      memset(buffer.get(), '#', buffered);
    }
    memcpy(grown.get() + buffered, input.data() + fed, take);
    buffer = std::move(grown);
    buffered += take;
    fed += take;
    for (;;) {
      size_t consumed = 12345;
      const Result result = parser.Parse(buffer.get(), buffered, &consumed);
      EXPECT_LE(consumed, buffered);
      if (result == Result::kError) {
        EXPECT_EQ(consumed, 0u);
        outcome.last = Result::kError;
        outcome.error = parser.error();
        return outcome;
      }
      if (result == Result::kOk) {
        EXPECT_FALSE(parser.args().empty());
        EXPECT_GT(consumed, 0u);
        outcome.commands.push_back(Copy(parser.args()));
      } else {
        EXPECT_TRUE(parser.args().empty());
      }
      memmove(buffer.get(), buffer.get() + consumed, buffered - consumed);
      buffered -= consumed;
      if (result == Result::kNeedMore) break;
    }
  }
  return outcome;
}

Outcome FeedWhole(std::string_view input, const RespLimits& limits = {}) {
  return FeedInChunks(input, input.empty() ? 1 : input.size(), limits);
}

// Parses a buffer holding exactly one command.
Args ParseOne(std::string_view input, const RespLimits& limits = {}) {
  RespParser parser(limits);
  size_t consumed = 0;
  EXPECT_EQ(parser.Parse(input.data(), input.size(), &consumed), Result::kOk)
      << testing::PrintToString(std::string(input)) << " " << parser.error();
  EXPECT_EQ(consumed, input.size());
  return Copy(parser.args());
}

std::string ParseError(std::string_view input, const RespLimits& limits = {}) {
  RespParser parser(limits);
  size_t consumed = 12345;
  const Result result = parser.Parse(input.data(), input.size(), &consumed);
  EXPECT_EQ(result, Result::kError) << testing::PrintToString(std::string(input));
  EXPECT_EQ(consumed, 0u);
  return parser.error();
}

std::string Multibulk(const Args& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& arg : args)
    out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  return out;
}

// ---- valid requests ---------------------------------------------------------------------------

TEST(RespParserTest, MultibulkArgsAreViewsIntoTheCallersBuffer) {
  const std::string input = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
  RespParser parser;
  size_t consumed = 0;
  ASSERT_EQ(parser.Parse(input.data(), input.size(), &consumed), Result::kOk);
  EXPECT_EQ(consumed, input.size());
  EXPECT_EQ(Copy(parser.args()), (Args{"SET", "key", "value"}));
  for (std::string_view arg : parser.args()) EXPECT_TRUE(Inside(arg, input.data(), input.size()));
  EXPECT_EQ(parser.args()[2].data(), input.data() + input.find("value"));
}

TEST(RespParserTest, MultibulkEmptyArgument) {
  EXPECT_EQ(ParseOne("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"), (Args{"ECHO", ""}));
}

TEST(RespParserTest, BulkIsBinarySafe) {
  std::string payload;
  for (int c = 0; c < 256; ++c) payload.push_back(static_cast<char>(c));
  payload += "\r\n*1\r\n$3\r\n\0\r\n"s;
  EXPECT_EQ(ParseOne(Multibulk({"SET", "k\r\n\0"s, payload})), (Args{"SET", "k\r\n\0"s, payload}));
}

TEST(RespParserTest, InlineCommands) {
  EXPECT_EQ(ParseOne("PING\r\n"), Args{"PING"});
  EXPECT_EQ(ParseOne("PING\n"), Args{"PING"});
  EXPECT_EQ(ParseOne("  set\tk  v \t\r\n"), (Args{"set", "k", "v"}));
  EXPECT_EQ(ParseOne(" *1 $3\r\n"), (Args{"*1", "$3"}));  // '*' only matters as the first byte
  EXPECT_EQ(ParseOne("a\r\rb\r\n"), (Args{"a", "b"}));    // a lone CR separates words
  // \v and \f separate words when skipped as blanks but do not end an unquoted word.
  EXPECT_EQ(ParseOne("ECHO a\vb\fc\n"), (Args{"ECHO", "a\vb\fc"}));
  EXPECT_EQ(ParseOne("\vECHO\f x\n"), (Args{"ECHO\f", "x"}));
}

TEST(RespParserTest, InlinePlainWordsAreViewsQuotedWordsAreUnescaped) {
  const std::string input = "SET plain \"q u\"\n";
  RespParser parser;
  size_t consumed = 0;
  ASSERT_EQ(parser.Parse(input.data(), input.size(), &consumed), Result::kOk);
  ASSERT_EQ(Copy(parser.args()), (Args{"SET", "plain", "q u"}));
  EXPECT_TRUE(Inside(parser.args()[0], input.data(), input.size()));
  EXPECT_TRUE(Inside(parser.args()[1], input.data(), input.size()));
  EXPECT_FALSE(Inside(parser.args()[2], input.data(), input.size()));
}

TEST(RespParserTest, InlineQuotingFollowsRedisCli) {
  struct Case {
    std::string line;
    Args args;
  };
  const Case cases[] = {
      {R"(set "a b" 'c d')", {"set", "a b", "c d"}},
      {R"(ECHO "\x41\x4a\xZZ\n")", {"ECHO", "AJxZZ\n"}},  // checked against redis-server 7.0
      {R"(ECHO "\n\r\t\b\a\\\"\q")", {"ECHO", "\n\r\t\b\a\\\"q"}},
      {R"(ECHO "\x00\xfF")", {"ECHO", "\0\xff"s}},
      {R"(ECHO 'a\'b' 'a\\b' 'a\"b')", {"ECHO", "a'b", "a\\\\b", "a\\\"b"}},
      {R"(ECHO foo"bar baz")", {"ECHO", "foobar baz"}},
      {R"(ECHO x'y z' "w")", {"ECHO", "xy z", "w"}},
      {R"(ECHO "" '')", {"ECHO", "", ""}},
      {"ECHO \"a\"\vb", {"ECHO", "a", "b"}},  // any isspace() may follow a closing quote
      {"ECHO 'a'\tb", {"ECHO", "a", "b"}},
      {R"("quoted name" x)", {"quoted name", "x"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseOne(c.line + "\r\n"), c.args) << c.line;
    EXPECT_EQ(ParseOne(c.line + "\n"), c.args) << c.line;
  }
}

TEST(RespParserTest, EmptyCommandsAreSkipped) {
  EXPECT_EQ(ParseOne("\r\n\n  \t\r\n\v\nPING\r\n"), Args{"PING"});
  EXPECT_EQ(ParseOne("*0\r\n*-1\r\n*-5\r\nPING\r\n"), Args{"PING"});
  EXPECT_EQ(ParseOne("\n*0\r\n\n*1\r\n$4\r\nPING\r\n"), Args{"PING"});
}

TEST(RespParserTest, NeedMoreReportsDiscardableEmptyCommands) {
  RespParser parser;
  size_t consumed = 0;
  const std::string empties = "\r\n*0\r\n\n*-1\r\n";
  EXPECT_EQ(parser.Parse(empties.data(), empties.size(), &consumed), Result::kNeedMore);
  EXPECT_EQ(consumed, empties.size());

  // Empty commands in front of a partial command stay until the command completes.
  const std::string partial = "\n\n*1\r\n$4\r\nPI";
  EXPECT_EQ(parser.Parse(partial.data(), partial.size(), &consumed), Result::kNeedMore);
  EXPECT_EQ(consumed, 0u);
  const std::string full = partial + "NG\r\n";
  ASSERT_EQ(parser.Parse(full.data(), full.size(), &consumed), Result::kOk);
  EXPECT_EQ(consumed, full.size());
  EXPECT_EQ(Copy(parser.args()), Args{"PING"});
}

TEST(RespParserTest, PipelineInOneBuffer) {
  const std::string input = Multibulk({"SET", "a", "1"}) + "GET a\r\n" + "\r\n" +
                            Multibulk({"DEL", "a"}) + "*0\r\n" + "PING\n" + "*1\r\n$4\r\nPI";
  RespParser parser;
  std::vector<Args> commands;
  size_t offset = 0;
  for (;;) {
    size_t consumed = 0;
    const Result result = parser.Parse(input.data() + offset, input.size() - offset, &consumed);
    if (result != Result::kOk) {
      EXPECT_EQ(result, Result::kNeedMore);
      EXPECT_EQ(consumed, 0u);
      break;
    }
    commands.push_back(Copy(parser.args()));
    offset += consumed;
  }
  EXPECT_EQ(commands, (std::vector<Args>{{"SET", "a", "1"}, {"GET", "a"}, {"DEL", "a"}, {"PING"}}));
  EXPECT_EQ(input.substr(offset), "*1\r\n$4\r\nPI");
}

// ---- incremental parsing ----------------------------------------------------------------------

const std::vector<std::string>& ValidInputs() {
  static const std::vector<std::string> inputs = {
      Multibulk({"SET", "key", "value"}),
      Multibulk({"SET", "k\r\n", "\r\n\0\0$1\r\n*"s, ""}),
      Multibulk({std::string(300, 'x')}),
      "PING\r\n",
      "  set \"a \\x41\\\"\" 'b\\'c'  d\t\n",
      "\r\n\n*0\r\n*-1\r\n" + Multibulk({"GET", "k"}),
      Multibulk({"SET", "a", "1"}) + "GET a\r\n\n" + Multibulk({"DEL", "a", "b"}) + "*0\r\nPING\n",
  };
  return inputs;
}

TEST(RespParserTest, EveryPrefixOfOneCommandNeedsMoreThenTheWholeParses) {
  for (const std::string& input :
       {Multibulk({"SET", "key", "value"}), Multibulk({"A", "", "\r\n\0"s}), "GET \"k y\"\r\n"s}) {
    const Args expected = ParseOne(input);
    for (size_t cut = 0; cut < input.size(); ++cut) {
      RespParser parser;
      size_t consumed = 12345;
      ASSERT_EQ(parser.Parse(input.data(), cut, &consumed), Result::kNeedMore) << cut;
      EXPECT_EQ(consumed, 0u);
      ASSERT_EQ(parser.Parse(input.data(), input.size(), &consumed), Result::kOk) << cut;
      EXPECT_EQ(consumed, input.size());
      EXPECT_EQ(Copy(parser.args()), expected) << cut;
    }
  }
}

TEST(RespParserTest, EverySplitPointGivesTheSameCommands) {
  for (const std::string& input : ValidInputs()) {
    const Outcome whole = FeedWhole(input);
    ASSERT_EQ(whole.last, Result::kNeedMore);
    ASSERT_FALSE(whole.commands.empty());
    for (size_t cut = 1; cut < input.size(); ++cut) {
      // Two reads: input[0, cut) then the rest.
      RespParser parser;
      Outcome split;
      std::string buffer = input.substr(0, cut);
      for (int read = 0; read < 2; ++read) {
        if (read == 1) buffer = std::string(buffer) + input.substr(cut);  // a fresh allocation
        for (;;) {
          size_t consumed = 0;
          const Result result = parser.Parse(buffer.data(), buffer.size(), &consumed);
          ASSERT_NE(result, Result::kError) << parser.error();
          if (result == Result::kOk) split.commands.push_back(Copy(parser.args()));
          buffer.erase(0, consumed);
          if (result == Result::kNeedMore) break;
        }
      }
      EXPECT_EQ(split.commands, whole.commands) << "cut at " << cut;
    }
  }
}

TEST(RespParserTest, ByteByByteIntoAMovingBufferGivesTheSameCommands) {
  for (const std::string& input : ValidInputs()) {
    const Outcome whole = FeedWhole(input);
    for (size_t chunk : {1, 2, 3, 5, 7, 16}) {
      EXPECT_EQ(FeedInChunks(input, chunk), whole) << "chunk " << chunk;
    }
  }
}

TEST(RespParserTest, BufferMovedBetweenCallsKeepsOffsets) {
  auto first = std::make_unique<char[]>(64);
  const std::string part = "\n*2\r\n$3\r\nGET\r\n$3\r\nke";
  memcpy(first.get(), part.data(), part.size());
  RespParser parser;
  size_t consumed = 0;
  ASSERT_EQ(parser.Parse(first.get(), part.size(), &consumed), Result::kNeedMore);
  ASSERT_EQ(consumed, 0u);

  const std::string full = part + "y\r\n";
  auto second = std::make_unique<char[]>(full.size());
  memcpy(second.get(), full.data(), full.size());
  memset(first.get(), 'X', 64);
  first.reset();
  ASSERT_EQ(parser.Parse(second.get(), full.size(), &consumed), Result::kOk);
  EXPECT_EQ(consumed, full.size());
  EXPECT_EQ(Copy(parser.args()), (Args{"GET", "key"}));
  for (std::string_view arg : parser.args()) EXPECT_TRUE(Inside(arg, second.get(), full.size()));
}

TEST(RespParserTest, RandomPipelinesInRandomChunks) {
  std::mt19937 rng(20240521);
  auto random_arg = [&](bool inline_safe) {
    std::string arg(rng() % (rng() % 4 == 0 ? 200 : 8) + (inline_safe ? 1 : 0), '\0');
    for (char& c : arg) {
      c = inline_safe ? "abcXYZ019_-:.*$"[rng() % 15] : static_cast<char>(rng() % 256);
    }
    return arg;
  };
  for (int round = 0; round < 200; ++round) {
    std::string input;
    std::vector<Args> expected;
    const int commands = 1 + rng() % 12;
    for (int i = 0; i < commands; ++i) {
      const int kind = rng() % 5;
      if (kind == 0) {
        input += rng() % 2 ? "\r\n" : "*0\r\n";  // empty command
        continue;
      }
      Args args(1 + rng() % 5);
      for (std::string& arg : args) arg = random_arg(kind == 1);
      if (kind == 1) {
        if (args[0][0] == '*') args[0][0] = 'a';
        std::string line;
        for (const std::string& arg : args) line += arg + (rng() % 2 ? " " : "\t ");
        input += line + (rng() % 2 ? "\r\n" : "\n");
      } else {
        input += Multibulk(args);
      }
      expected.push_back(args);
    }
    const Outcome whole = FeedWhole(input);
    EXPECT_EQ(whole.commands, expected);
    EXPECT_EQ(whole.last, Result::kNeedMore);
    EXPECT_EQ(FeedInChunks(input, 1 + rng() % 64), whole) << "round " << round;
  }
}

TEST(RespParserTest, LargeBulkInSmallReadsIsLinear) {
  constexpr size_t kPayload = 100u << 20;
  constexpr size_t kRead = 16u << 10;
  std::string input = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(kPayload) + "\r\n";
  const size_t header = input.size();
  input.resize(header + kPayload, 'v');
  for (size_t i = header; i < input.size(); i += 4099) input[i] = static_cast<char>(i);
  input += "\r\n";

  const auto start = std::chrono::steady_clock::now();
  RespParser parser;
  std::string buffer;
  buffer.reserve(input.size());
  Result result = Result::kNeedMore;
  size_t consumed = 0;
  size_t calls = 0;
  for (size_t fed = 0; fed < input.size() && result == Result::kNeedMore; fed += kRead) {
    buffer.append(input, fed, kRead);
    result = parser.Parse(buffer.data(), buffer.size(), &consumed);
    ++calls;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(result, Result::kOk);
  EXPECT_EQ(calls, (input.size() + kRead - 1) / kRead);
  EXPECT_EQ(consumed, input.size());
  ASSERT_EQ(parser.args().size(), 3u);
  EXPECT_EQ(parser.args()[2].size(), kPayload);
  EXPECT_EQ(parser.args()[2].data(), buffer.data() + header);
  EXPECT_TRUE(parser.args()[2] == std::string_view(input).substr(header, kPayload));
  // Rescanning the buffered payload on each of the ~6400 reads would take minutes (ten times
  // more under a sanitizer, where `make asan`/`make tsan` set SHOAL_SLOW=1 and the bound grows
  // as much).
  const double slow = std::getenv("SHOAL_SLOW") != nullptr ? 10.0 : 1.0;
  EXPECT_LT(seconds, 5.0 * slow);
}

TEST(RespParserTest, ManyArgumentsThenSmallCommands) {
  Args many(200000, "x");
  many[0] = "MSET";
  const std::string input = Multibulk(many) + Multibulk({"GET", "x"});
  const Outcome outcome = FeedInChunks(input, 1 << 16);
  ASSERT_EQ(outcome.commands.size(), 2u);
  EXPECT_EQ(outcome.commands[0], many);
  EXPECT_EQ(outcome.commands[1], (Args{"GET", "x"}));
}

TEST(RespParserTest, ResetForgetsAPartialCommand) {
  RespParser parser;
  size_t consumed = 0;
  const std::string partial = "*2\r\n$3\r\nGET\r\n$10\r\nab";
  ASSERT_EQ(parser.Parse(partial.data(), partial.size(), &consumed), Result::kNeedMore);
  parser.Reset();
  const std::string fresh = "PING\r\n";
  ASSERT_EQ(parser.Parse(fresh.data(), fresh.size(), &consumed), Result::kOk);
  EXPECT_EQ(Copy(parser.args()), Args{"PING"});
}

// ---- malformed requests -----------------------------------------------------------------------

constexpr const char* kBadCount = "Protocol error: invalid multibulk length";
constexpr const char* kBadBulk = "Protocol error: invalid bulk length";
constexpr const char* kQuotes = "Protocol error: unbalanced quotes in request";

TEST(RespParserTest, MalformedInputsGiveRedisErrors) {
  struct Case {
    std::string input;
    std::string error;
  };
  // Every error text below was checked against redis-server 7.0.15, except the marked
  // deviations (Redis skips those two bytes without looking at them).
  const Case cases[] = {
      {"*a\r\n", kBadCount},
      {"*1x\r\n", kBadCount},
      {"*+1\r\n", kBadCount},
      {"*01\r\n", kBadCount},
      {"*-0\r\n", kBadCount},
      {"* 1\r\n", kBadCount},
      {"*\r\n", kBadCount},
      {"*99999999999999999999\r\n", kBadCount},
      {"*-99999999999999999999\r\n", kBadCount},
      {"*1048577\r\n", kBadCount},         // RespLimits::max_args (Redis 7 allows up to INT_MAX)
      {"*1\rX$4\r\nPING\r\n", kBadCount},  // deviation: CR must be followed by LF
      {"*1\r\nx\r\n", "Protocol error: expected '$', got 'x'"},
      {"*1\r\n\r\n", "Protocol error: expected '$', got ' '"},
      {"*1\r\n\n\r\n", "Protocol error: expected '$', got ' '"},
      {"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
      {"*2\r\n$4\r\nECHO\r\n*1\r\n", "Protocol error: expected '$', got '*'"},
      {"*1\r\n$-1\r\n", kBadBulk},
      {"*1\r\n$a\r\n", kBadBulk},
      {"*1\r\n$\r\n", kBadBulk},
      {"*1\r\n$01\r\n", kBadBulk},
      {"*1\r\n$+1\r\n", kBadBulk},
      {"*1\r\n$1 \r\n", kBadBulk},
      {"*1\r\n$536870913\r\n", kBadBulk},  // RespLimits::max_bulk_bytes, proto-max-bulk-len
      {"*1\r\n$99999999999999999999\r\n", kBadBulk},
      {"*1\r\n$4\rXPING\r\n", kBadBulk},  // deviation: CR must be followed by LF
      {"*1\r\n$4\r\nPINGXY", "Protocol error: expected CRLF after bulk data"},  // deviation
      {"*1\r\n$4\r\nPING\rX", "Protocol error: expected CRLF after bulk data"},
      {"*1\r\n$4\r\nPING\n\r", "Protocol error: expected CRLF after bulk data"},
      {"*1\r\n$3\r\nPING\r\n", "Protocol error: expected CRLF after bulk data"},
      {"ECHO \"a\n", kQuotes},
      {"ECHO 'a\r\n", kQuotes},
      {"ECHO \"a\"x\n", kQuotes},
      {"ECHO 'a'x\n", kQuotes},
      {"ECHO \"a\\\"\n", kQuotes},
      {"ECHO 'a\\'\n", kQuotes},
      {"ECHO \"a\\\n", kQuotes},
      {"\"\n", kQuotes},
      {"ECHO x'y z'\"w\"\n", kQuotes},  // a closing quote must be followed by a blank
      {"PING\r\n\"\n", kQuotes},        // after a good command
      {std::string(65537, 'x'), "Protocol error: too big inline request"},
      {"*" + std::string(65536, '0'), "Protocol error: too big mbulk count string"},
      {"*1\r\n$" + std::string(65536, '0'), "Protocol error: too big bulk count string"},
      {"PING\0\n"s + std::string(65536, 'x'), "Protocol error: too big inline request"},
      {"*1\r\n\0\r\n"s + std::string(65536, 'x'), "Protocol error: too big bulk count string"},
  };
  for (const Case& c : cases) {
    const std::string shown = testing::PrintToString(c.input.substr(0, 40));
    // Redis reports the error for the first bad command; earlier good ones still run.
    const Outcome whole = FeedWhole(c.input);
    EXPECT_EQ(whole.last, Result::kError) << shown;
    EXPECT_EQ(whole.error, c.error) << shown;
    const Outcome byte_by_byte = FeedInChunks(c.input, 1);
    EXPECT_EQ(byte_by_byte, whole) << shown;
  }
}

TEST(RespParserTest, ErrorIsStickyUntilReset) {
  RespParser parser;
  size_t consumed = 0;
  const std::string bad = "*1\r\nx\r\n";
  ASSERT_EQ(parser.Parse(bad.data(), bad.size(), &consumed), Result::kError);
  const std::string good = "PING\r\n";
  EXPECT_EQ(parser.Parse(good.data(), good.size(), &consumed), Result::kError);
  EXPECT_EQ(consumed, 0u);
  EXPECT_EQ(parser.error(), "Protocol error: expected '$', got 'x'");
  EXPECT_TRUE(parser.args().empty());
  parser.Reset();
  EXPECT_EQ(parser.error(), "");
  ASSERT_EQ(parser.Parse(good.data(), good.size(), &consumed), Result::kOk);
  EXPECT_EQ(Copy(parser.args()), Args{"PING"});
}

TEST(RespParserTest, ErrorsWaitForTheWholeLineAsRedisDoes) {
  // Redis judges a header line only once its CR and the byte after it have arrived.
  RespParser parser;
  size_t consumed = 0;
  for (const std::string& partial : {"*1x"s, "*1\r"s, "*1\r\nx"s, "*1\r\nx\r"s, "*1\r\n$-1"s}) {
    EXPECT_EQ(parser.Parse(partial.data(), partial.size(), &consumed), Result::kNeedMore)
        << partial;
    parser.Reset();
  }
}

TEST(RespParserTest, NulBeforeALineEndHidesItAsInRedis) {
  // Redis finds line ends with strchr(), which stops at NUL: such a line never completes.
  RespParser parser;
  size_t consumed = 0;
  for (const std::string& input : {"PING\0\n"s, "*1\r\n\0\r\n"s, "*\0\r\n"s, "*1\r\n$\0\r\n"s}) {
    EXPECT_EQ(parser.Parse(input.data(), input.size(), &consumed), Result::kNeedMore);
    const std::string more = input + "PING\r\n" + Multibulk({"PING"});
    EXPECT_EQ(parser.Parse(more.data(), more.size(), &consumed), Result::kNeedMore);
    parser.Reset();
  }
  // In a bulk payload NUL is data; after a completed command it starts the next one.
  EXPECT_EQ(ParseOne("*1\r\n$4\r\nPI\0G\r\n"s), Args{"PI\0G"s});
}

// ---- limits -----------------------------------------------------------------------------------

TEST(RespParserTest, MaxArgs) {
  RespLimits limits;
  limits.max_args = 3;
  EXPECT_EQ(ParseOne(Multibulk({"a", "b", "c"}), limits), (Args{"a", "b", "c"}));
  // Rejected as soon as the count is read, before any argument arrives.
  EXPECT_EQ(ParseError("*4\r\n", limits), kBadCount);
  // Inline commands are bounded by the line length only, as in Redis.
  EXPECT_EQ(ParseOne("a b c d e\r\n", limits).size(), 5u);
}

TEST(RespParserTest, MaxBulkBytes) {
  RespLimits limits;
  limits.max_bulk_bytes = 10;
  EXPECT_EQ(ParseOne(Multibulk({"SET", "0123456789"}), limits), (Args{"SET", "0123456789"}));
  // Rejected at the header, before the payload is buffered.
  EXPECT_EQ(ParseError("*2\r\n$3\r\nSET\r\n$11\r\n", limits), kBadBulk);
}

TEST(RespParserTest, MaxInlineBytes) {
  RespLimits limits;
  limits.max_inline_bytes = 16;
  RespParser parser(limits);
  size_t consumed = 0;
  const std::string sixteen(16, 'x');
  EXPECT_EQ(parser.Parse(sixteen.data(), sixteen.size(), &consumed), Result::kNeedMore);
  const std::string seventeen(17, 'x');
  EXPECT_EQ(parser.Parse(seventeen.data(), seventeen.size(), &consumed), Result::kError);
  EXPECT_EQ(parser.error(), "Protocol error: too big inline request");
  // A line that arrives complete is not limited (Redis checks only unfinished lines).
  EXPECT_EQ(ParseOne("ECHO " + std::string(100, 'y') + "\r\n", limits).size(), 2u);
  // The same limit guards the *<n> and $<len> lines.
  EXPECT_EQ(ParseError("*" + std::string(16, '0'), limits),
            "Protocol error: too big mbulk count string");
  EXPECT_EQ(ParseError("*1\r\n$" + std::string(16, '0'), limits),
            "Protocol error: too big bulk count string");
  const std::string count_line_at_limit = "*" + std::string(15, '0');
  parser.Reset();
  EXPECT_EQ(parser.Parse(count_line_at_limit.data(), count_line_at_limit.size(), &consumed),
            Result::kNeedMore);
  // The limit counts buffered bytes from the line start, pipelined data included.
  const std::string header = "*2\r\n$4\r\nECHO\r\n$";
  EXPECT_EQ(FeedWhole(header + std::string(16, '1'), limits).error,
            "Protocol error: too big bulk count string");
  EXPECT_EQ(FeedWhole(header + std::string(15, '1'), limits).last, Result::kNeedMore);
}

TEST(RespParserTest, MaxRequestBytesCountsTheWholeCommand) {
  RespLimits limits;
  limits.max_request_bytes = 34;
  const std::string too_big =
      "Protocol error: too big request (client-query-buffer-limit is 34 bytes)";
  // *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8\r\n12345678\r\n is exactly 34 bytes.
  const std::string at_limit = Multibulk({"SET", "k", "12345678"});
  ASSERT_EQ(at_limit.size(), 34u);
  EXPECT_EQ(ParseOne(at_limit, limits), (Args{"SET", "k", "12345678"}));
  // One byte more in any argument crosses it; refused at the $<len> line that crosses it,
  // before the payload arrives (every argument is within max_bulk_bytes on its own).
  EXPECT_EQ(ParseError("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$9\r\n", limits), too_big);
  EXPECT_EQ(ParseError("*3\r\n$3\r\nSET\r\n$2\r\nkk\r\n$8\r\n", limits), too_big);
  // Many arguments, each small: the sum counts (MSET of many large values).
  EXPECT_EQ(
      FeedInChunks(Multibulk({"MSET", "a", "0123456789", "b", "0123456789"}), 3, limits).error,
      too_big);
  // The limit is per command: pipelined commands each within it all pass.
  std::string pipeline;
  for (int i = 0; i < 10; ++i) pipeline += at_limit;
  const Outcome outcome = FeedInChunks(pipeline, 7, limits);
  EXPECT_EQ(outcome.commands.size(), 10u);
  EXPECT_TRUE(outcome.error.empty());
}

TEST(RespParserTest, DefaultLimitBoundaries) {
  RespParser parser;
  size_t consumed = 0;
  const std::string at_limit(65536, 'x');
  EXPECT_EQ(parser.Parse(at_limit.data(), at_limit.size(), &consumed), Result::kNeedMore);
  parser.Reset();
  const std::string max_count = "*1048576\r\n";
  EXPECT_EQ(parser.Parse(max_count.data(), max_count.size(), &consumed), Result::kNeedMore);
  parser.Reset();
  const std::string max_bulk = "*1\r\n$536870912\r\n";
  EXPECT_EQ(parser.Parse(max_bulk.data(), max_bulk.size(), &consumed), Result::kNeedMore);
}

}  // namespace
}  // namespace shoal::proxy
