#include "proxy/command/command_table.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <string_view>

namespace shoal::proxy {
namespace {

// Redis 7's COMMAND INFO for each command shoal-proxy serves: arity and key positions
// (first, last, step), plus the shoal.* extensions.
struct Expected {
  std::string_view name;
  CommandId id;
  int arity;
  int first_key;
  int last_key;
  int step;
  bool write;
};

constexpr Expected kExpected[] = {
    {"ping", CommandId::kPing, -1, 0, 0, 0, false},
    {"echo", CommandId::kEcho, 2, 0, 0, 0, false},
    {"quit", CommandId::kQuit, -1, 0, 0, 0, false},
    {"hello", CommandId::kHello, -1, 0, 0, 0, false},
    {"auth", CommandId::kAuth, -2, 0, 0, 0, false},
    {"select", CommandId::kSelect, 2, 0, 0, 0, false},
    {"client", CommandId::kClient, -2, 0, 0, 0, false},
    {"info", CommandId::kInfo, -1, 0, 0, 0, false},
    {"command", CommandId::kCommand, -1, 0, 0, 0, false},
    {"get", CommandId::kGet, 2, 1, 1, 1, false},
    {"set", CommandId::kSet, -3, 1, 1, 1, true},
    {"setex", CommandId::kSetEx, 4, 1, 1, 1, true},
    {"psetex", CommandId::kPSetEx, 4, 1, 1, 1, true},
    {"setnx", CommandId::kSetNx, 3, 1, 1, 1, true},
    {"getdel", CommandId::kGetDel, 2, 1, 1, 1, true},
    {"getex", CommandId::kGetEx, -2, 1, 1, 1, true},
    {"mget", CommandId::kMGet, -2, 1, -1, 1, false},
    {"mset", CommandId::kMSet, -3, 1, -1, 2, true},
    {"del", CommandId::kDel, -2, 1, -1, 1, true},
    {"unlink", CommandId::kUnlink, -2, 1, -1, 1, true},
    {"exists", CommandId::kExists, -2, 1, -1, 1, false},
    {"expire", CommandId::kExpire, -3, 1, 1, 1, true},
    {"pexpire", CommandId::kPExpire, -3, 1, 1, 1, true},
    {"expireat", CommandId::kExpireAt, -3, 1, 1, 1, true},
    {"pexpireat", CommandId::kPExpireAt, -3, 1, 1, 1, true},
    {"persist", CommandId::kPersist, 2, 1, 1, 1, true},
    {"ttl", CommandId::kTtl, 2, 1, 1, 1, false},
    {"pttl", CommandId::kPTtl, 2, 1, 1, 1, false},
    {"touch", CommandId::kTouch, -2, 1, -1, 1, false},  // read-only in Redis too
    {"shoal.consistency", CommandId::kShoalConsistency, -1, 0, 0, 0, false},
    {"shoal.locate", CommandId::kShoalLocate, 2, 1, 1, 1, false},
    {"shoal.members", CommandId::kShoalMembers, 1, 0, 0, 0, false},
    {"flushall", CommandId::kFlushAll, -1, 0, 0, 0, true},
    {"flushdb", CommandId::kFlushDb, -1, 0, 0, 0, true},
    {"dbsize", CommandId::kDbSize, 1, 0, 0, 0, false},
    {"keys", CommandId::kKeys, 2, 0, 0, 0, false},
    {"scan", CommandId::kScan, -2, 0, 0, 0, false},
    {"randomkey", CommandId::kRandomKey, 1, 0, 0, 0, false},
    {"type", CommandId::kType, 2, 1, 1, 1, false},
    {"append", CommandId::kAppend, 3, 1, 1, 1, true},
    {"strlen", CommandId::kStrLen, 2, 1, 1, 1, false},
    {"getrange", CommandId::kGetRange, 4, 1, 1, 1, false},
    {"substr", CommandId::kSubStr, 4, 1, 1, 1, false},
    {"setrange", CommandId::kSetRange, 4, 1, 1, 1, true},
    {"getset", CommandId::kGetSet, 3, 1, 1, 1, true},
    {"msetnx", CommandId::kMSetNx, -3, 1, -1, 2, true},
    {"lcs", CommandId::kLcs, -3, 1, 2, 1, false},
    {"rename", CommandId::kRename, 3, 1, 2, 1, true},
    {"renamenx", CommandId::kRenameNx, 3, 1, 2, 1, true},
    {"copy", CommandId::kCopy, -3, 1, 2, 1, true},
    {"incr", CommandId::kIncr, 2, 1, 1, 1, true},
    {"decr", CommandId::kDecr, 2, 1, 1, 1, true},
    {"incrby", CommandId::kIncrBy, 3, 1, 1, 1, true},
    {"decrby", CommandId::kDecrBy, 3, 1, 1, 1, true},
    {"incrbyfloat", CommandId::kIncrByFloat, 3, 1, 1, 1, true},
    {"function", CommandId::kFunction, -2, 0, 0, 0, false},
    {"time", CommandId::kTime, 1, 0, 0, 0, false},
    {"expiretime", CommandId::kExpireTime, 2, 1, 1, 1, false},
    {"pexpiretime", CommandId::kPExpireTime, 2, 1, 1, 1, false},
    {"hset", CommandId::kHSet, -4, 1, 1, 1, true},
    {"hget", CommandId::kHGet, 3, 1, 1, 1, false},
    {"hmset", CommandId::kHMSet, -4, 1, 1, 1, true},
    {"hmget", CommandId::kHMGet, -3, 1, 1, 1, false},
    {"hgetall", CommandId::kHGetAll, 2, 1, 1, 1, false},
    {"hdel", CommandId::kHDel, -3, 1, 1, 1, true},
    {"hexists", CommandId::kHExists, 3, 1, 1, 1, false},
    {"hlen", CommandId::kHLen, 2, 1, 1, 1, false},
    {"hkeys", CommandId::kHKeys, 2, 1, 1, 1, false},
    {"hvals", CommandId::kHVals, 2, 1, 1, 1, false},
    {"hsetnx", CommandId::kHSetNx, 4, 1, 1, 1, true},
    {"hstrlen", CommandId::kHStrLen, 3, 1, 1, 1, false},
    {"hincrby", CommandId::kHIncrBy, 4, 1, 1, 1, true},
    {"hincrbyfloat", CommandId::kHIncrByFloat, 4, 1, 1, 1, true},
    {"hrandfield", CommandId::kHRandField, -2, 1, 1, 1, false},
    {"hscan", CommandId::kHScan, -3, 1, 1, 1, false},
    {"sadd", CommandId::kSAdd, -3, 1, 1, 1, true},
    {"srem", CommandId::kSRem, -3, 1, 1, 1, true},
    {"sismember", CommandId::kSIsMember, 3, 1, 1, 1, false},
    {"smismember", CommandId::kSMIsMember, -3, 1, 1, 1, false},
    {"smembers", CommandId::kSMembers, 2, 1, 1, 1, false},
    {"scard", CommandId::kSCard, 2, 1, 1, 1, false},
    {"srandmember", CommandId::kSRandMember, -2, 1, 1, 1, false},
    {"spop", CommandId::kSPop, -2, 1, 1, 1, true},
    {"smove", CommandId::kSMove, 4, 1, 2, 1, true},
    {"sinter", CommandId::kSInter, -2, 1, -1, 1, false},
    {"sinterstore", CommandId::kSInterStore, -3, 1, -1, 1, true},
    {"sunion", CommandId::kSUnion, -2, 1, -1, 1, false},
    {"sunionstore", CommandId::kSUnionStore, -3, 1, -1, 1, true},
    {"sdiff", CommandId::kSDiff, -2, 1, -1, 1, false},
    {"sdiffstore", CommandId::kSDiffStore, -3, 1, -1, 1, true},
    {"sintercard", CommandId::kSInterCard, -3, 0, 0, 0, false},
    {"sscan", CommandId::kSScan, -3, 1, 1, 1, false},
    {"config", CommandId::kConfig, -2, 0, 0, 0, false},
    {"object", CommandId::kObject, -2, 0, 0, 0, false},
};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Alternating case starting with upper: "get" -> "GeT".
std::string Mixed(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    out[i] = static_cast<char>(i % 2 == 0 ? std::toupper(c) : std::tolower(c));
  }
  return out;
}

TEST(CommandTableTest, TableHoldsExactlyTheExpectedCommands) {
  std::set<std::string_view> table_names;
  for (const CommandSpec& spec : AllCommands()) {
    EXPECT_TRUE(table_names.insert(spec.name).second) << "duplicate " << spec.name;
  }
  std::set<std::string_view> expected_names;
  for (const Expected& e : kExpected) expected_names.insert(e.name);
  EXPECT_EQ(table_names, expected_names);
}

TEST(CommandTableTest, NamesAreLowerCase) {
  for (const CommandSpec& spec : AllCommands()) {
    for (char c : spec.name) {
      EXPECT_FALSE(std::isupper(static_cast<unsigned char>(c))) << spec.name;
    }
  }
}

TEST(CommandTableTest, EveryCommandIsFoundInAnyCase) {
  for (const CommandSpec& spec : AllCommands()) {
    for (const std::string& name : {std::string(spec.name), Upper(spec.name), Mixed(spec.name)}) {
      const CommandSpec* found = LookupCommand(name);
      ASSERT_NE(found, nullptr) << name;
      EXPECT_EQ(found, &spec) << name;
      EXPECT_EQ(found->id, spec.id) << name;
    }
  }
}

TEST(CommandTableTest, LookupExamples) {
  for (std::string_view name : {"GET", "get", "GeT", "gEt"}) {
    const CommandSpec* spec = LookupCommand(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(spec->id, CommandId::kGet);
  }
  const CommandSpec* mset = LookupCommand("MsEt");
  ASSERT_NE(mset, nullptr);
  EXPECT_EQ(mset->id, CommandId::kMSet);
  const CommandSpec* consistency = LookupCommand("SHOAL.Consistency");
  ASSERT_NE(consistency, nullptr);
  EXPECT_EQ(consistency->id, CommandId::kShoalConsistency);
}

TEST(CommandTableTest, UnknownCommandsAreNotFound) {
  using namespace std::string_view_literals;
  for (std::string_view name :
       {""sv,        "g"sv,     "ge"sv,     "gett"sv,        "getx"sv,          " get"sv,
        "get "sv,    "get\0"sv, "ge\0"sv,   "setranges"sv,   "incrx"sv,         "key"sv,
        "flushal"sv, "shoal"sv, "shoal."sv, "shoal.locat"sv, "shoal.locatex"sv, "consistency"sv,
        "cluster"sv, "multi"sv, "exec"sv,   "\xc7\xc5\xd4"sv}) {
    EXPECT_EQ(LookupCommand(name), nullptr) << "'" << name << "'";
  }
}

TEST(CommandTableTest, ArityMatchesRedis7) {
  for (const Expected& e : kExpected) {
    const CommandSpec* spec = LookupCommand(e.name);
    ASSERT_NE(spec, nullptr) << e.name;
    EXPECT_EQ(spec->id, e.id) << e.name;
    EXPECT_EQ(spec->arity, e.arity) << e.name;
  }
}

TEST(CommandTableTest, ArityOkAcceptsAndRefuses) {
  for (const Expected& e : kExpected) {
    const CommandSpec* spec = LookupCommand(e.name);
    ASSERT_NE(spec, nullptr) << e.name;
    EXPECT_FALSE(ArityOk(*spec, 0)) << e.name;
    if (e.arity > 0) {
      const size_t exact = static_cast<size_t>(e.arity);
      EXPECT_TRUE(ArityOk(*spec, exact)) << e.name;
      EXPECT_FALSE(ArityOk(*spec, exact - 1)) << e.name;
      EXPECT_FALSE(ArityOk(*spec, exact + 1)) << e.name;
      EXPECT_FALSE(ArityOk(*spec, exact + 10)) << e.name;
    } else {
      const size_t minimum = static_cast<size_t>(-e.arity);
      EXPECT_TRUE(ArityOk(*spec, minimum)) << e.name;
      EXPECT_TRUE(ArityOk(*spec, minimum + 1)) << e.name;
      EXPECT_TRUE(ArityOk(*spec, minimum + 1000)) << e.name;
      if (minimum > 0) {
        EXPECT_FALSE(ArityOk(*spec, minimum - 1)) << e.name;
      }
    }
  }
}

TEST(CommandTableTest, ArityOkConcreteCases) {
  const CommandSpec& get = *LookupCommand("get");
  EXPECT_FALSE(ArityOk(get, 1));  // GET
  EXPECT_TRUE(ArityOk(get, 2));   // GET k
  EXPECT_FALSE(ArityOk(get, 3));  // GET k extra

  const CommandSpec& set = *LookupCommand("set");
  EXPECT_FALSE(ArityOk(set, 2));  // SET k
  EXPECT_TRUE(ArityOk(set, 3));   // SET k v
  EXPECT_TRUE(ArityOk(set, 5));   // SET k v EX 10

  const CommandSpec& mset = *LookupCommand("mset");
  EXPECT_FALSE(ArityOk(mset, 2));  // MSET k (pairing is checked by the command itself)
  EXPECT_TRUE(ArityOk(mset, 3));
  EXPECT_TRUE(ArityOk(mset, 4));

  const CommandSpec& setex = *LookupCommand("setex");
  EXPECT_FALSE(ArityOk(setex, 3));
  EXPECT_TRUE(ArityOk(setex, 4));
  EXPECT_FALSE(ArityOk(setex, 5));

  const CommandSpec& ping = *LookupCommand("ping");
  EXPECT_TRUE(ArityOk(ping, 1));
  EXPECT_TRUE(ArityOk(ping, 2));
  EXPECT_TRUE(ArityOk(ping, 3));  // Redis leaves "wrong number of arguments" to the command
}

TEST(CommandTableTest, KeyPositionsMatchRedis7) {
  for (const Expected& e : kExpected) {
    const CommandSpec* spec = LookupCommand(e.name);
    ASSERT_NE(spec, nullptr) << e.name;
    EXPECT_EQ(spec->first_key, e.first_key) << e.name;
    EXPECT_EQ(spec->last_key, e.last_key) << e.name;
    EXPECT_EQ(spec->step, e.step) << e.name;
  }
}

TEST(CommandTableTest, KeyPositionsAreConsistent) {
  for (const CommandSpec& spec : AllCommands()) {
    if (spec.first_key == 0) {
      EXPECT_EQ(spec.last_key, 0) << spec.name;
      EXPECT_EQ(spec.step, 0) << spec.name;
      continue;
    }
    EXPECT_GE(spec.step, 1) << spec.name;
    EXPECT_TRUE(spec.last_key == -1 || spec.last_key >= spec.first_key) << spec.name;
    // The minimum argument count must reach at least the first key.
    const int min_args = spec.arity > 0 ? spec.arity : -spec.arity;
    EXPECT_GT(min_args, spec.first_key) << spec.name;
  }
}

TEST(CommandTableTest, WriteFlagsMatchRedis7) {
  for (const Expected& e : kExpected) {
    const CommandSpec* spec = LookupCommand(e.name);
    ASSERT_NE(spec, nullptr) << e.name;
    EXPECT_EQ(spec->write, e.write) << e.name;
  }
}

TEST(CommandTableTest, OnlyAuthHelloQuitRunBeforeAuth) {
  std::set<std::string_view> no_auth;
  for (const CommandSpec& spec : AllCommands()) {
    if (spec.no_auth) no_auth.insert(spec.name);
  }
  EXPECT_EQ(no_auth, (std::set<std::string_view>{"auth", "hello", "quit"}));
}

TEST(CommandTableTest, DocsMetadataIsFilledIn) {
  const std::set<std::string_view> groups = {"connection", "server",    "string", "generic",
                                             "shoal",      "scripting", "hash",   "set"};
  for (const CommandSpec& spec : AllCommands()) {
    EXPECT_TRUE(groups.count(spec.group)) << spec.name << " group " << spec.group;
    EXPECT_FALSE(spec.summary.empty()) << spec.name;
    EXPECT_FALSE(spec.since.empty()) << spec.name;
  }
  EXPECT_EQ(LookupCommand("get")->group, "string");
  EXPECT_EQ(LookupCommand("del")->group, "generic");
  EXPECT_EQ(LookupCommand("ping")->group, "connection");
  EXPECT_EQ(LookupCommand("getex")->since, "6.2.0");
  EXPECT_EQ(LookupCommand("shoal.locate")->group, "shoal");
}

}  // namespace
}  // namespace shoal::proxy
