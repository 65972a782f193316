#include "proxy/command/args.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::proxy {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kNow = 1'700'000'000'123;  // the injected clock, unix ms

using Args = std::vector<std::string_view>;

// ---- ParseInt64 --------------------------------------------------------------------------------

bool Parses(std::string_view text, int64_t* value) { return ParseInt64(text, value); }

TEST(ParseInt64Test, AcceptsCanonicalIntegers) {
  const std::pair<std::string_view, int64_t> cases[] = {
      {"0", 0},
      {"1", 1},
      {"-1", -1},
      {"9", 9},
      {"10", 10},
      {"-10", -10},
      {"99", 99},
      {"-99", -99},
      {"1000000", 1000000},
      {"9223372036854775807", kMax},
      {"-9223372036854775808", kMin},
      {"9223372036854775806", kMax - 1},
      {"-9223372036854775807", kMin + 1},
  };
  for (const auto& [text, want] : cases) {
    int64_t v = 12345;
    EXPECT_TRUE(Parses(text, &v)) << text;
    EXPECT_EQ(v, want) << text;
  }
}

TEST(ParseInt64Test, RefusesWhatString2llRefuses) {
  using namespace std::string_view_literals;
  for (std::string_view text : {
           ""sv,
           "-"sv,
           "+1"sv,  // no plus sign
           " 1"sv,  // no leading space
           "1 "sv,  // no trailing space
           "01"sv,  // no leading zero
           "00"sv,
           "-0"sv,  // zero only as "0"
           "-01"sv,
           "--1"sv,
           "1-"sv,
           "9223372036854775808"sv,    // kMax + 1
           "-9223372036854775809"sv,   // kMin - 1
           "18446744073709551615"sv,   // uint64 max
           "18446744073709551616"sv,   // uint64 max + 1
           "99999999999999999999"sv,   // 20 digits, overflows uint64 too
           "123456789012345678901"sv,  // 21 characters
           "00000000000000000001"sv,
           "1.5"sv,
           "1.0"sv,
           "1e3"sv,
           "0x10"sv,
           "abc"sv,
           "1a"sv,
           "a1"sv,
           "\t1"sv,
           "1\r\n"sv,
           "1\0"sv,
           "\0"sv,
       }) {
    int64_t v = 777;
    EXPECT_FALSE(Parses(text, &v)) << "'" << text << "'";
    EXPECT_EQ(v, 777) << "output written on failure for '" << text << "'";
  }
}

TEST(ParseInt64Test, DoesNotReadPastTheView) {
  const std::string buffer = "12345";
  int64_t v = 0;
  ASSERT_TRUE(Parses(std::string_view(buffer).substr(0, 2), &v));
  EXPECT_EQ(v, 12);
  ASSERT_TRUE(Parses(std::string_view(buffer).substr(1, 1), &v));
  EXPECT_EQ(v, 2);
}

// string2ll accepts exactly the canonical decimal spelling of an int64 (what printf("%lld")
// produces), which is what makes it safe to round-trip. Check that against every short string over
// an alphabet of interesting characters.
bool CanonicalInt64(std::string_view text, int64_t* out) {
  int64_t v;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return false;
  if (std::to_string(v) != text) return false;
  *out = v;
  return true;
}

TEST(ParseInt64Test, MatchesTheCanonicalModelOnAllShortStrings) {
  const std::string_view alphabet = "-+ 019a.";
  std::string text;
  int checked = 0;
  // All strings of length 0..5 over the alphabet.
  std::vector<size_t> digits;
  for (size_t len = 0; len <= 5; ++len) {
    digits.assign(len, 0);
    while (true) {
      text.clear();
      for (size_t d : digits) text.push_back(alphabet[d]);
      int64_t want = 0, got = 0;
      const bool want_ok = CanonicalInt64(text, &want);
      ASSERT_EQ(ParseInt64(text, &got), want_ok) << "'" << text << "'";
      if (want_ok) {
        ASSERT_EQ(got, want) << text;
      }
      ++checked;
      size_t i = 0;
      while (i < len && ++digits[i] == alphabet.size()) digits[i++] = 0;
      if (i == len) break;
    }
  }
  EXPECT_GT(checked, 30000);
}

TEST(ParseInt64Test, RoundTripsRandomValues) {
  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 20000; ++i) {
    // Spread over magnitudes: shift a random value right by a random amount.
    int64_t v = static_cast<int64_t>(rng() >> (rng() % 64));
    if (rng() & 1) v = -v;
    int64_t got = 0;
    ASSERT_TRUE(ParseInt64(std::to_string(v), &got)) << v;
    ASSERT_EQ(got, v);
  }
}

// ---- ParsePositiveExpiry (SETEX, PSETEX and the expiry of SET/GETEX) -------------------------

TEST(ParsePositiveExpiryTest, RelativeSecondsAndMilliseconds) {
  int64_t at = 0;
  EXPECT_EQ(ParsePositiveExpiry("10", false, false, kNow, "setex", &at), "");
  EXPECT_EQ(at, kNow + 10'000);
  EXPECT_EQ(ParsePositiveExpiry("10", true, false, kNow, "psetex", &at), "");
  EXPECT_EQ(at, kNow + 10);
  EXPECT_EQ(ParsePositiveExpiry("1", true, false, 0, "psetex", &at), "");
  EXPECT_EQ(at, 1);
}

TEST(ParsePositiveExpiryTest, AbsoluteIgnoresNow) {
  int64_t at = 0;
  EXPECT_EQ(ParsePositiveExpiry("1800000000", false, true, kNow, "set", &at), "");
  EXPECT_EQ(at, 1'800'000'000'000);
  EXPECT_EQ(ParsePositiveExpiry("1800000000", false, true, 5, "set", &at), "");
  EXPECT_EQ(at, 1'800'000'000'000);
  EXPECT_EQ(ParsePositiveExpiry("1800000000123", true, true, kNow, "set", &at), "");
  EXPECT_EQ(at, 1'800'000'000'123);
  // An absolute time in the past is still a valid argument (the key just expires).
  EXPECT_EQ(ParsePositiveExpiry("1", true, true, kNow, "set", &at), "");
  EXPECT_EQ(at, 1);
}

TEST(ParsePositiveExpiryTest, ZeroAndNegativeAreInvalidAndNameTheCommand) {
  int64_t at = 42;
  EXPECT_EQ(ParsePositiveExpiry("0", false, false, kNow, "setex", &at),
            "ERR invalid expire time in 'setex' command");
  EXPECT_EQ(ParsePositiveExpiry("-1", true, false, kNow, "psetex", &at),
            "ERR invalid expire time in 'psetex' command");
  EXPECT_EQ(ParsePositiveExpiry("0", true, true, kNow, "set", &at),
            "ERR invalid expire time in 'set' command");
  EXPECT_EQ(ParsePositiveExpiry("-9223372036854775808", false, true, kNow, "getex", &at),
            "ERR invalid expire time in 'getex' command");
  EXPECT_EQ(at, 42);
}

TEST(ParsePositiveExpiryTest, NonIntegers) {
  int64_t at = 42;
  for (std::string_view text : {"abc", "1.5", "", " 1", "+1", "01", "9223372036854775808"}) {
    EXPECT_EQ(ParsePositiveExpiry(text, false, false, kNow, "setex", &at),
              "ERR value is not an integer or out of range")
        << text;
  }
  EXPECT_EQ(at, 42);
}

TEST(ParsePositiveExpiryTest, Overflow) {
  int64_t at = 42;
  // Seconds that overflow when converted to milliseconds.
  EXPECT_EQ(ParsePositiveExpiry("9223372036854775807", false, true, kNow, "setex", &at),
            "ERR invalid expire time in 'setex' command");
  EXPECT_EQ(ParsePositiveExpiry("9223372036854776", false, true, 0, "setex", &at),
            "ERR invalid expire time in 'setex' command");
  // The largest whole number of seconds still fits as an absolute time...
  EXPECT_EQ(ParsePositiveExpiry("9223372036854775", false, true, kNow, "set", &at), "");
  EXPECT_EQ(at, 9'223'372'036'854'775'000);
  // ...but not once now is added.
  EXPECT_EQ(ParsePositiveExpiry("9223372036854775", false, false, kNow, "set", &at),
            "ERR invalid expire time in 'set' command");
  // Milliseconds: exactly up to kMax after adding now.
  EXPECT_EQ(ParsePositiveExpiry(std::to_string(kMax - kNow), true, false, kNow, "psetex", &at), "");
  EXPECT_EQ(at, kMax);
  EXPECT_EQ(ParsePositiveExpiry(std::to_string(kMax - kNow + 1), true, false, kNow, "psetex", &at),
            "ERR invalid expire time in 'psetex' command");
  EXPECT_EQ(ParsePositiveExpiry("9223372036854775807", true, true, kNow, "set", &at), "");
  EXPECT_EQ(at, kMax);
}

// ---- ParseSetOptions ---------------------------------------------------------------------------

struct SetResult {
  std::string error;
  SetOptions options;
};

SetResult ParseSet(std::initializer_list<std::string_view> args, int64_t now = kNow) {
  const Args v(args);
  SetResult r;
  // Start from garbage: the parser must reset what it does not set.
  r.options.condition = SetCondition::kIfPresent;
  r.options.get = true;
  r.options.keep_ttl = true;
  r.options.expire_at_ms = -77;
  r.error = ParseSetOptions(v, now, &r.options);
  return r;
}

TEST(ParseSetOptionsTest, NoOptions) {
  const SetResult r = ParseSet({});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.options.condition, SetCondition::kNone);
  EXPECT_FALSE(r.options.get);
  EXPECT_FALSE(r.options.keep_ttl);
  EXPECT_EQ(r.options.expire_at_ms, 0);
}

TEST(ParseSetOptionsTest, EachOptionInAnyCase) {
  for (std::string_view nx : {"NX", "nx", "Nx", "nX"}) {
    const SetResult r = ParseSet({nx});
    ASSERT_EQ(r.error, "") << nx;
    EXPECT_EQ(r.options.condition, SetCondition::kIfAbsent);
    EXPECT_FALSE(r.options.get);
    EXPECT_EQ(r.options.expire_at_ms, 0);
  }
  for (std::string_view xx : {"XX", "xx", "xX"}) {
    const SetResult r = ParseSet({xx});
    ASSERT_EQ(r.error, "") << xx;
    EXPECT_EQ(r.options.condition, SetCondition::kIfPresent);
  }
  for (std::string_view get : {"GET", "get", "gEt"}) {
    const SetResult r = ParseSet({get});
    ASSERT_EQ(r.error, "") << get;
    EXPECT_TRUE(r.options.get);
    EXPECT_EQ(r.options.condition, SetCondition::kNone);
  }
  for (std::string_view keepttl : {"KEEPTTL", "keepttl", "KeepTtl"}) {
    const SetResult r = ParseSet({keepttl});
    ASSERT_EQ(r.error, "") << keepttl;
    EXPECT_TRUE(r.options.keep_ttl);
    EXPECT_EQ(r.options.expire_at_ms, 0);
  }
  for (std::string_view ex : {"EX", "ex", "eX"}) {
    const SetResult r = ParseSet({ex, "10"});
    ASSERT_EQ(r.error, "") << ex;
    EXPECT_EQ(r.options.expire_at_ms, kNow + 10'000);
    EXPECT_FALSE(r.options.keep_ttl);
  }
  for (std::string_view px : {"PX", "px", "Px"}) {
    const SetResult r = ParseSet({px, "1500"});
    ASSERT_EQ(r.error, "") << px;
    EXPECT_EQ(r.options.expire_at_ms, kNow + 1500);
  }
  for (std::string_view exat : {"EXAT", "exat", "ExAt"}) {
    const SetResult r = ParseSet({exat, "1800000000"});
    ASSERT_EQ(r.error, "") << exat;
    EXPECT_EQ(r.options.expire_at_ms, 1'800'000'000'000);
  }
  for (std::string_view pxat : {"PXAT", "pxat", "pXaT"}) {
    const SetResult r = ParseSet({pxat, "1800000000456"});
    ASSERT_EQ(r.error, "") << pxat;
    EXPECT_EQ(r.options.expire_at_ms, 1'800'000'000'456);
  }
}

TEST(ParseSetOptionsTest, RelativeTimesUseTheInjectedNow) {
  EXPECT_EQ(ParseSet({"EX", "5"}, 1000).options.expire_at_ms, 6000);
  EXPECT_EQ(ParseSet({"EX", "5"}, 2000).options.expire_at_ms, 7000);
  EXPECT_EQ(ParseSet({"PX", "5"}, 1000).options.expire_at_ms, 1005);
  EXPECT_EQ(ParseSet({"EXAT", "5"}, 1000).options.expire_at_ms, 5000);
  EXPECT_EQ(ParseSet({"EXAT", "5"}, 2000).options.expire_at_ms, 5000);
  EXPECT_EQ(ParseSet({"PXAT", "5"}, 2000).options.expire_at_ms, 5);
}

TEST(ParseSetOptionsTest, CombinationsInAnyOrder) {
  {
    const SetResult r = ParseSet({"NX", "GET", "EX", "10"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.condition, SetCondition::kIfAbsent);  // NX with GET: allowed since 7.0
    EXPECT_TRUE(r.options.get);
    EXPECT_EQ(r.options.expire_at_ms, kNow + 10'000);
  }
  {
    const SetResult r = ParseSet({"px", "250", "get", "xx"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.condition, SetCondition::kIfPresent);
    EXPECT_TRUE(r.options.get);
    EXPECT_EQ(r.options.expire_at_ms, kNow + 250);
  }
  {
    const SetResult r = ParseSet({"KEEPTTL", "XX", "GET"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.condition, SetCondition::kIfPresent);
    EXPECT_TRUE(r.options.get);
    EXPECT_TRUE(r.options.keep_ttl);
    EXPECT_EQ(r.options.expire_at_ms, 0);
  }
  {
    const SetResult r = ParseSet({"GET", "PXAT", "1800000000456", "NX"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.condition, SetCondition::kIfAbsent);
    EXPECT_TRUE(r.options.get);
    EXPECT_EQ(r.options.expire_at_ms, 1'800'000'000'456);
  }
}

TEST(ParseSetOptionsTest, ConflictsAreSyntaxErrors) {
  const std::vector<std::vector<std::string_view>> conflicts = {
      {"NX", "XX"},
      {"XX", "NX"},
      {"nx", "GET", "xx"},
      {"EX", "1", "PX", "1"},
      {"PX", "1", "EX", "1"},
      {"EX", "1", "EXAT", "1"},
      {"EX", "1", "PXAT", "1"},
      {"PX", "1", "EXAT", "1"},
      {"PX", "1", "PXAT", "1"},
      {"EXAT", "1", "PXAT", "1"},
      {"PXAT", "1", "EXAT", "1"},
      {"EX", "1", "KEEPTTL"},
      {"KEEPTTL", "EX", "1"},
      {"KEEPTTL", "PX", "1"},
      {"PXAT", "1", "KEEPTTL"},
      {"KEEPTTL", "EXAT", "1"},
      {"PERSIST"},  // a GETEX option, not a SET one
  };
  for (const auto& args : conflicts) {
    SetOptions out;
    EXPECT_EQ(ParseSetOptions(args, kNow, &out), "ERR syntax error")
        << testing::PrintToString(args);
  }
}

TEST(ParseSetOptionsTest, UnknownOrMalformedOptionsAreSyntaxErrors) {
  for (std::string_view opt :
       {"FOO", "", "N", "NXX", "X", "GETT", "KEEP", "KEEPTTLX", "E", "EXA", "PXATT", "EXAT1"}) {
    EXPECT_EQ(ParseSet({opt}).error, "ERR syntax error") << "'" << opt << "'";
  }
  EXPECT_EQ(ParseSet({"NX", "FOO"}).error, "ERR syntax error");
  EXPECT_EQ(ParseSet({"EX", "10", "10"}).error, "ERR syntax error");
}

TEST(ParseSetOptionsTest, ExpiryWithoutValueIsSyntaxError) {
  for (std::string_view opt : {"EX", "PX", "EXAT", "PXAT", "ex"}) {
    EXPECT_EQ(ParseSet({opt}).error, "ERR syntax error") << opt;
    EXPECT_EQ(ParseSet({"NX", opt}).error, "ERR syntax error") << opt;
    EXPECT_EQ(ParseSet({"GET", opt}).error, "ERR syntax error") << opt;
  }
}

TEST(ParseSetOptionsTest, RepeatingTheSameOptionIsAllowedAsInRedis7) {
  // Redis's parser only refuses *other* conflicting flags, so a repeated flag is accepted and the
  // last expiry given wins.
  {
    const SetResult r = ParseSet({"NX", "NX"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.condition, SetCondition::kIfAbsent);
  }
  {
    const SetResult r = ParseSet({"xx", "XX"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.condition, SetCondition::kIfPresent);
  }
  {
    const SetResult r = ParseSet({"GET", "GET"});
    ASSERT_EQ(r.error, "");
    EXPECT_TRUE(r.options.get);
  }
  {
    const SetResult r = ParseSet({"KEEPTTL", "keepttl"});
    ASSERT_EQ(r.error, "");
    EXPECT_TRUE(r.options.keep_ttl);
  }
  {
    const SetResult r = ParseSet({"EX", "1", "EX", "2"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.expire_at_ms, kNow + 2000);
  }
  {
    const SetResult r = ParseSet({"PX", "7", "px", "9"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.expire_at_ms, kNow + 9);
  }
  {
    const SetResult r = ParseSet({"EXAT", "100", "EXAT", "200"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.expire_at_ms, 200'000);
  }
  {
    const SetResult r = ParseSet({"PXAT", "100", "PXAT", "200"});
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.options.expire_at_ms, 200);
  }
}

TEST(ParseSetOptionsTest, InvalidExpireTime) {
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"EX", "0"},
           {"EX", "-1"},
           {"PX", "0"},
           {"PX", "-100"},
           {"EXAT", "0"},
           {"PXAT", "-5"},
           {"NX", "EX", "0", "GET"},
       }) {
    SetOptions out;
    EXPECT_EQ(ParseSetOptions(args, kNow, &out), "ERR invalid expire time in 'set' command")
        << testing::PrintToString(args);
  }
}

TEST(ParseSetOptionsTest, ExpireNotAnInteger) {
  for (std::string_view value : {"abc", "1.5", "", " 1", "+1", "01", "1e3", "NX"}) {
    EXPECT_EQ(ParseSet({"EX", value}).error, "ERR value is not an integer or out of range")
        << "'" << value << "'";
    EXPECT_EQ(ParseSet({"PXAT", value}).error, "ERR value is not an integer or out of range")
        << "'" << value << "'";
  }
}

TEST(ParseSetOptionsTest, ExpireOverflow) {
  EXPECT_EQ(ParseSet({"EX", "9223372036854775807"}).error,
            "ERR invalid expire time in 'set' command");
  EXPECT_EQ(ParseSet({"EX", "9223372036854775"}).error,  // fits in ms, not once now is added
            "ERR invalid expire time in 'set' command");
  EXPECT_EQ(ParseSet({"PX", "9223372036854775807"}).error,
            "ERR invalid expire time in 'set' command");
  EXPECT_EQ(ParseSet({"EXAT", "9223372036854776"}).error,
            "ERR invalid expire time in 'set' command");
  EXPECT_EQ(ParseSet({"EX", "9223372036854775808"}).error,
            "ERR value is not an integer or out of range");
  // The largest values that fit.
  const SetResult pxat = ParseSet({"PXAT", "9223372036854775807"});
  ASSERT_EQ(pxat.error, "");
  EXPECT_EQ(pxat.options.expire_at_ms, kMax);
  const SetResult px = ParseSet({"PX", std::to_string(kMax - kNow)});
  ASSERT_EQ(px.error, "");
  EXPECT_EQ(px.options.expire_at_ms, kMax);
}

// Redis parses every flag first and only then looks at the expiry value (the last one given), so
// a syntax error wins over a bad value and an overridden bad value is never looked at.
TEST(ParseSetOptionsTest, FlagsAreCheckedBeforeTheExpiryValue) {
  EXPECT_EQ(ParseSet({"EX", "abc", "NX", "XX"}).error, "ERR syntax error");
  EXPECT_EQ(ParseSet({"EX", "0", "FOO"}).error, "ERR syntax error");
  EXPECT_EQ(ParseSet({"EX", "abc", "KEEPTTL"}).error, "ERR syntax error");
  const SetResult overridden = ParseSet({"EX", "abc", "EX", "3"});
  ASSERT_EQ(overridden.error, "");
  EXPECT_EQ(overridden.options.expire_at_ms, kNow + 3000);
  const SetResult overridden_zero = ParseSet({"PX", "0", "PX", "3"});
  ASSERT_EQ(overridden_zero.error, "");
  EXPECT_EQ(overridden_zero.options.expire_at_ms, kNow + 3);
}

// ---- ParseGetExOptions -------------------------------------------------------------------------

struct GetExResult {
  std::string error;
  GetExOptions options;
};

GetExResult ParseGetEx(std::initializer_list<std::string_view> args, int64_t now = kNow) {
  const Args v(args);
  GetExResult r;
  r.options.touch = true;
  r.options.expire_at_ms = -77;
  r.error = ParseGetExOptions(v, now, &r.options);
  return r;
}

TEST(ParseGetExOptionsTest, NoOptionsLeavesTheExpiryAlone) {
  const GetExResult r = ParseGetEx({});
  ASSERT_EQ(r.error, "");
  EXPECT_FALSE(r.options.touch);
}

TEST(ParseGetExOptionsTest, EachOption) {
  for (std::string_view persist : {"PERSIST", "persist", "PerSist"}) {
    const GetExResult r = ParseGetEx({persist});
    ASSERT_EQ(r.error, "") << persist;
    EXPECT_TRUE(r.options.touch);
    EXPECT_EQ(r.options.expire_at_ms, 0);
  }
  const GetExResult ex = ParseGetEx({"ex", "10"});
  ASSERT_EQ(ex.error, "");
  EXPECT_TRUE(ex.options.touch);
  EXPECT_EQ(ex.options.expire_at_ms, kNow + 10'000);
  const GetExResult px = ParseGetEx({"PX", "10"});
  ASSERT_EQ(px.error, "");
  EXPECT_TRUE(px.options.touch);
  EXPECT_EQ(px.options.expire_at_ms, kNow + 10);
  const GetExResult exat = ParseGetEx({"EXAT", "1800000000"});
  ASSERT_EQ(exat.error, "");
  EXPECT_TRUE(exat.options.touch);
  EXPECT_EQ(exat.options.expire_at_ms, 1'800'000'000'000);
  const GetExResult pxat = ParseGetEx({"PxAt", "1800000000001"});
  ASSERT_EQ(pxat.error, "");
  EXPECT_TRUE(pxat.options.touch);
  EXPECT_EQ(pxat.options.expire_at_ms, 1'800'000'000'001);
  EXPECT_EQ(ParseGetEx({"EX", "1"}, 5000).options.expire_at_ms, 6000);
}

TEST(ParseGetExOptionsTest, ConflictsAndSetOnlyOptionsAreSyntaxErrors) {
  const std::vector<std::vector<std::string_view>> bad = {
      {"EX", "1", "PX", "1"},
      {"PX", "1", "EX", "1"},
      {"EX", "1", "EXAT", "1"},
      {"EXAT", "1", "PXAT", "1"},
      {"PERSIST", "EX", "1"},
      {"EX", "1", "PERSIST"},
      {"PXAT", "1", "PERSIST"},
      {"NX"},
      {"XX"},
      {"GET"},
      {"KEEPTTL"},
      {"FOO"},
      {"EX"},
      {"PXAT"},
      {"PERSIST", "EX"},
      {"EX", "1", "2"},
  };
  for (const auto& args : bad) {
    GetExOptions out;
    EXPECT_EQ(ParseGetExOptions(args, kNow, &out), "ERR syntax error")
        << testing::PrintToString(args);
  }
}

TEST(ParseGetExOptionsTest, RepeatingTheSameOptionIsAllowedAsInRedis7) {
  const GetExResult persist = ParseGetEx({"PERSIST", "persist"});
  ASSERT_EQ(persist.error, "");
  EXPECT_TRUE(persist.options.touch);
  EXPECT_EQ(persist.options.expire_at_ms, 0);
  const GetExResult ex = ParseGetEx({"EX", "1", "EX", "2"});
  ASSERT_EQ(ex.error, "");
  EXPECT_EQ(ex.options.expire_at_ms, kNow + 2000);
  const GetExResult overridden = ParseGetEx({"PX", "abc", "PX", "4"});
  ASSERT_EQ(overridden.error, "");
  EXPECT_EQ(overridden.options.expire_at_ms, kNow + 4);
}

TEST(ParseGetExOptionsTest, InvalidExpireNamesGetex) {
  for (const auto& args :
       std::vector<std::vector<std::string_view>>{{"EX", "0"},
                                                  {"PX", "-1"},
                                                  {"EXAT", "0"},
                                                  {"PXAT", "-1"},
                                                  {"EX", "9223372036854775807"},
                                                  {"PX", "9223372036854775807"}}) {
    GetExOptions out;
    EXPECT_EQ(ParseGetExOptions(args, kNow, &out), "ERR invalid expire time in 'getex' command")
        << testing::PrintToString(args);
  }
  EXPECT_EQ(ParseGetEx({"EX", "ten"}).error, "ERR value is not an integer or out of range");
  EXPECT_EQ(ParseGetEx({"EX", "ten", "PERSIST"}).error, "ERR syntax error");
}

// ---- ParseExpireArgs ---------------------------------------------------------------------------

struct ExpireResult {
  std::string error;
  ExpireArgs args;
};

ExpireResult ParseExpire(std::initializer_list<std::string_view> args, bool ms, bool absolute,
                         std::string_view command = "expire", int64_t now = kNow) {
  const Args v(args);
  ExpireResult r;
  r.args.expire_at_ms = -77;
  r.args.condition = ExpireCondition::kLt;
  r.error = ParseExpireArgs(v, ms, absolute, now, command, &r.args);
  return r;
}

TEST(ParseExpireArgsTest, RelativeAndAbsoluteSecondsAndMilliseconds) {
  ExpireResult r = ParseExpire({"10"}, false, false);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, kNow + 10'000);
  EXPECT_EQ(r.args.condition, ExpireCondition::kNone);

  r = ParseExpire({"10"}, true, false, "pexpire");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, kNow + 10);

  r = ParseExpire({"1800000000"}, false, true, "expireat");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, 1'800'000'000'000);

  r = ParseExpire({"1800000000789"}, true, true, "pexpireat");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, 1'800'000'000'789);

  EXPECT_EQ(ParseExpire({"3"}, false, false, "expire", 1000).args.expire_at_ms, 4000);
  EXPECT_EQ(ParseExpire({"3"}, false, true, "expireat", 1000).args.expire_at_ms, 3000);
}

TEST(ParseExpireArgsTest, ZeroAndNegativeAreAllowed) {
  EXPECT_EQ(ParseExpire({"0"}, false, false).args.expire_at_ms, kNow);
  EXPECT_EQ(ParseExpire({"-5"}, false, false).args.expire_at_ms, kNow - 5000);
  EXPECT_EQ(ParseExpire({"-5"}, true, false, "pexpire").args.expire_at_ms, kNow - 5);
  EXPECT_EQ(ParseExpire({"0"}, false, true, "expireat").args.expire_at_ms, 0);
  EXPECT_EQ(ParseExpire({"-1"}, true, true, "pexpireat").args.expire_at_ms, -1);
  for (std::string_view t : {"0", "-5"}) {
    EXPECT_EQ(ParseExpire({t}, false, false).error, "") << t;
  }
}

TEST(ParseExpireArgsTest, Conditions) {
  const std::pair<std::string_view, ExpireCondition> cases[] = {
      {"NX", ExpireCondition::kNx}, {"nx", ExpireCondition::kNx}, {"XX", ExpireCondition::kXx},
      {"xX", ExpireCondition::kXx}, {"GT", ExpireCondition::kGt}, {"gt", ExpireCondition::kGt},
      {"LT", ExpireCondition::kLt}, {"Lt", ExpireCondition::kLt},
  };
  for (const auto& [opt, want] : cases) {
    const ExpireResult r = ParseExpire({"10", opt}, false, false);
    ASSERT_EQ(r.error, "") << opt;
    EXPECT_EQ(r.args.condition, want) << opt;
    EXPECT_EQ(r.args.expire_at_ms, kNow + 10'000) << opt;
  }
  // A repeated option is fine.
  EXPECT_EQ(ParseExpire({"10", "NX", "nx"}, false, false).args.condition, ExpireCondition::kNx);
  EXPECT_EQ(ParseExpire({"10", "GT", "GT"}, false, false).args.condition, ExpireCondition::kGt);
}

// Redis 7 accepts XX together with GT or LT and applies both checks. GT already fails on a key
// without an expiry (an infinite TTL is never smaller), so XX GT is GT; XX LT is its own condition.
TEST(ParseExpireArgsTest, XxCombinesWithGtAndLt) {
  EXPECT_EQ(ParseExpire({"10", "XX", "GT"}, false, false).args.condition, ExpireCondition::kGt);
  EXPECT_EQ(ParseExpire({"10", "gt", "xx"}, false, false).args.condition, ExpireCondition::kGt);
  EXPECT_EQ(ParseExpire({"10", "XX", "LT"}, false, false).args.condition, ExpireCondition::kXxLt);
  EXPECT_EQ(ParseExpire({"10", "lt", "xx"}, false, false).args.condition, ExpireCondition::kXxLt);
  EXPECT_EQ(ParseExpire({"10", "lt", "xx"}, false, false).error, "");
}

TEST(ParseExpireArgsTest, IncompatibleConditions) {
  const std::string nx_error =
      "ERR NX and XX, GT or LT options at the same time are not compatible";
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"10", "NX", "XX"},
           {"10", "XX", "NX"},
           {"10", "NX", "GT"},
           {"10", "LT", "nx"},
           {"10", "NX", "GT", "LT"},  // the NX error is reported first
       }) {
    ExpireArgs out;
    EXPECT_EQ(ParseExpireArgs(args, false, false, kNow, "expire", &out), nx_error)
        << testing::PrintToString(args);
  }
  const std::string gt_lt_error = "ERR GT and LT options at the same time are not compatible";
  EXPECT_EQ(ParseExpire({"10", "GT", "LT"}, false, false).error, gt_lt_error);
  EXPECT_EQ(ParseExpire({"10", "lt", "XX", "gt"}, false, false).error, gt_lt_error);
}

TEST(ParseExpireArgsTest, UnsupportedOptionKeepsTheClientsSpelling) {
  EXPECT_EQ(ParseExpire({"10", "FOO"}, false, false).error, "ERR Unsupported option FOO");
  EXPECT_EQ(ParseExpire({"10", "foo"}, false, false).error, "ERR Unsupported option foo");
  EXPECT_EQ(ParseExpire({"10", "NX", "KEEPTTL"}, false, false).error,
            "ERR Unsupported option KEEPTTL");
  // Every option is read before the combination is judged.
  EXPECT_EQ(ParseExpire({"10", "NX", "XX", "BAR"}, false, false).error,
            "ERR Unsupported option BAR");
  EXPECT_EQ(ParseExpire({"10", ""}, false, false).error, "ERR Unsupported option ");
}

TEST(ParseExpireArgsTest, OptionsAreCheckedBeforeTheTime) {
  EXPECT_EQ(ParseExpire({"abc", "FOO"}, false, false).error, "ERR Unsupported option FOO");
  EXPECT_EQ(ParseExpire({"abc", "GT", "LT"}, false, false).error,
            "ERR GT and LT options at the same time are not compatible");
  EXPECT_EQ(ParseExpire({"abc"}, false, false).error,
            "ERR value is not an integer or out of range");
  EXPECT_EQ(ParseExpire({"1.5", "NX"}, false, false).error,
            "ERR value is not an integer or out of range");
  EXPECT_EQ(ParseExpire({"+1"}, false, false).error, "ERR value is not an integer or out of range");
}

TEST(ParseExpireArgsTest, OverflowNamesTheCommand) {
  // Seconds beyond what milliseconds can hold, both signs.
  EXPECT_EQ(ParseExpire({"9223372036854776"}, false, true, "expireat").error,
            "ERR invalid expire time in 'expireat' command");
  EXPECT_EQ(ParseExpire({"-9223372036854776"}, false, true, "expireat").error,
            "ERR invalid expire time in 'expireat' command");
  EXPECT_EQ(ParseExpire({"9223372036854775807"}, false, false).error,
            "ERR invalid expire time in 'expire' command");
  // Fits in milliseconds but not once now is added.
  EXPECT_EQ(ParseExpire({"9223372036854775"}, false, false).error,
            "ERR invalid expire time in 'expire' command");
  EXPECT_EQ(ParseExpire({"9223372036854775807"}, true, false, "pexpire").error,
            "ERR invalid expire time in 'pexpire' command");
  EXPECT_EQ(ParseExpire({std::to_string(kMax - kNow + 1)}, true, false, "pexpire").error,
            "ERR invalid expire time in 'pexpire' command");
  // The limits themselves.
  ExpireResult r = ParseExpire({std::to_string(kMax - kNow)}, true, false, "pexpire");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, kMax);
  r = ParseExpire({"9223372036854775"}, false, true, "expireat");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, 9'223'372'036'854'775'000);
  r = ParseExpire({"-9223372036854775"}, false, true, "expireat");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, -9'223'372'036'854'775'000);
  r = ParseExpire({"9223372036854775807"}, true, true, "pexpireat");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, kMax);
}

// Adding a positive now to a negative time cannot overflow: Redis only checks the upper bound, so
// the most negative relative times are accepted (and delete the key).
TEST(ParseExpireArgsTest, MostNegativeRelativeTimesAreAccepted) {
  ExpireResult r = ParseExpire({"-9223372036854775808"}, true, false, "pexpire");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, kMin + kNow);
  EXPECT_LT(r.args.expire_at_ms, kNow);
  r = ParseExpire({"-9223372036854775"}, false, false, "expire");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, -9'223'372'036'854'775'000 + kNow);
  r = ParseExpire({"-9223372036854775808"}, true, true, "pexpireat");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.expire_at_ms, kMin);
}

// ---- EqualsIgnoreCase --------------------------------------------------------------------------

TEST(EqualsIgnoreCaseTest, AsciiCaseOnly) {
  EXPECT_TRUE(EqualsIgnoreCase("keepttl", "KEEPTTL"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_FALSE(EqualsIgnoreCase("nx", "nxx"));
  EXPECT_FALSE(EqualsIgnoreCase("nx", "n"));
  EXPECT_FALSE(EqualsIgnoreCase(std::string_view("n\0", 2), "nx"));
  EXPECT_FALSE(EqualsIgnoreCase("ex", "fx"));
}

TEST(InvalidExpireErrorTest, Wording) {
  EXPECT_EQ(InvalidExpireError("set"), "ERR invalid expire time in 'set' command");
  EXPECT_EQ(InvalidExpireError("pexpireat"), "ERR invalid expire time in 'pexpireat' command");
}

}  // namespace
}  // namespace shoal::proxy
