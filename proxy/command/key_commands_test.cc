#include "proxy/command/key_commands.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/wire/frame.h"
#include "proxy/command/args.h"

namespace shoal::proxy {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Planned {
  std::string error;
  KeyCommand command;
};

Planned Plan(std::vector<std::string_view> args, uint64_t limit = UINT64_MAX) {
  Planned p;
  const CommandSpec* spec = LookupCommand(args[0]);
  EXPECT_NE(spec, nullptr) << args[0];
  if (spec == nullptr) return p;
  EXPECT_TRUE(ArityOk(*spec, args.size())) << args[0];
  p.error = PlanKeyCommand(*spec, args, kNow, limit, &p.command);
  return p;
}

TEST(PlanKeyCommand, ReadsAskForTheValueOnlyWhenTheReplyNeedsIt) {
  const Planned get = Plan({"GET", "k"});
  ASSERT_EQ(get.error, "");
  EXPECT_EQ(get.command.plan.mode, KeyMode::kRead);
  EXPECT_TRUE(get.command.plan.want_value);
  EXPECT_FALSE(get.command.write_level);
  for (std::string_view name : {"EXISTS", "TTL", "PTTL", "TOUCH"}) {
    const Planned p = Plan({name, "k"});
    ASSERT_EQ(p.error, "") << name;
    EXPECT_EQ(p.command.plan.mode, KeyMode::kRead) << name;
    EXPECT_FALSE(p.command.plan.want_value) << name;
  }
  EXPECT_TRUE(Plan({"PTTL", "k"}).command.reply & kReplyMilliseconds);
}

// GETEX without an option is a read at the read consistency, but its failures still say "write".
TEST(PlanKeyCommand, GetexWithoutOptionIsAReadAtTheReadLevel) {
  const Planned plain = Plan({"GETEX", "k"});
  ASSERT_EQ(plain.error, "");
  EXPECT_EQ(plain.command.plan.mode, KeyMode::kRead);
  EXPECT_FALSE(plain.command.write_level);
  EXPECT_TRUE(plain.command.reply & kReplyWriteCommand);
  const Planned touch = Plan({"GETEX", "k", "PX", "100"});
  ASSERT_EQ(touch.error, "");
  EXPECT_EQ(touch.command.plan.mode, KeyMode::kTouch);
  EXPECT_TRUE(touch.command.plan.touch_wants_value);
  EXPECT_EQ(touch.command.plan.expire_at_ms, kNow + 100);
  EXPECT_TRUE(touch.command.write_level);
}

TEST(PlanKeyCommand, SetFamily) {
  const Planned set = Plan({"SET", "k", "v", "PX", "50"});
  ASSERT_EQ(set.error, "");
  EXPECT_EQ(set.command.plan.mode, KeyMode::kWrite);
  EXPECT_EQ(set.command.plan.value, "v");
  EXPECT_EQ(set.command.plan.expire_at_ms, kNow + 50);
  EXPECT_TRUE(set.command.write_level);

  const Planned nx = Plan({"SET", "k", "v", "NX"});
  EXPECT_EQ(nx.command.plan.mode, KeyMode::kReadThenWrite);
  EXPECT_EQ(nx.command.plan.condition, KeyCondition::kIfAbsent);
  EXPECT_TRUE(nx.command.reply & kReplyConditional);
  EXPECT_EQ(Plan({"SET", "k", "v", "XX"}).command.plan.condition, KeyCondition::kIfPresent);
  const Planned get = Plan({"SET", "k", "v", "GET"});
  EXPECT_EQ(get.command.plan.mode, KeyMode::kReadThenWrite);
  EXPECT_TRUE(get.command.plan.want_value);
  EXPECT_TRUE(get.command.reply & kReplyPrevious);
  EXPECT_TRUE(Plan({"SET", "k", "v", "KEEPTTL"}).command.plan.keep_expiry);

  const Planned setnx = Plan({"SETNX", "k", "v"});
  EXPECT_EQ(setnx.command.plan.condition, KeyCondition::kIfAbsent);
  EXPECT_TRUE(setnx.command.reply & kReplyPerformed);
  const Planned psetex = Plan({"PSETEX", "k", "70", "v"});
  ASSERT_EQ(psetex.error, "");
  EXPECT_EQ(psetex.command.plan.value, "v");
  EXPECT_EQ(psetex.command.plan.expire_at_ms, kNow + 70);
  EXPECT_EQ(Plan({"SET", "k", "v", "NX", "XX"}).error, kErrSyntax);
  EXPECT_EQ(Plan({"SETEX", "k", "0", "v"}).error, "ERR invalid expire time in 'setex' command");
}

TEST(PlanKeyCommand, GetdelIsAConditionalDelete) {
  const Planned p = Plan({"GETDEL", "k"});
  EXPECT_EQ(p.command.plan.mode, KeyMode::kReadThenWrite);
  EXPECT_EQ(p.command.plan.condition, KeyCondition::kIfPresent);
  EXPECT_TRUE(p.command.plan.tombstone);
  EXPECT_TRUE(p.command.plan.want_value);
}

TEST(PlanKeyCommand, ExpireFamily) {
  const Planned future = Plan({"PEXPIRE", "k", "100"});
  EXPECT_EQ(future.command.plan.mode, KeyMode::kTouch);
  EXPECT_EQ(future.command.plan.expire_at_ms, kNow + 100);
  const Planned past = Plan({"PEXPIRE", "k", "0"});
  EXPECT_EQ(past.command.plan.mode, KeyMode::kWrite);
  EXPECT_TRUE(past.command.plan.tombstone);
  EXPECT_TRUE(past.command.reply & kReplyPreviousLive);
  const Planned gt = Plan({"PEXPIREAT", "k", std::to_string(kNow + 500), "GT"});
  EXPECT_EQ(gt.command.plan.mode, KeyMode::kReadThenWrite);
  EXPECT_EQ(gt.command.plan.condition, KeyCondition::kExpireGt);
  EXPECT_TRUE(gt.command.plan.write_is_touch);
  EXPECT_EQ(gt.command.plan.condition_expire_at_ms, kNow + 500);
  const Planned nx_past = Plan({"EXPIRE", "k", "-1", "NX"});
  EXPECT_EQ(nx_past.command.plan.mode, KeyMode::kReadThenWrite);
  EXPECT_FALSE(nx_past.command.plan.write_is_touch);
  EXPECT_TRUE(nx_past.command.plan.tombstone);
  const Planned persist = Plan({"PERSIST", "k"});
  EXPECT_EQ(persist.command.plan.mode, KeyMode::kTouch);
  EXPECT_EQ(persist.command.plan.expire_at_ms, 0);
}

TEST(PlanKeyCommand, MultiKeyCommandsPlanEveryKey) {
  std::vector<std::string_view> mset = {"MSET", "a", "1", "b", "2", "c", "3"};
  const Planned p = Plan(mset);
  ASSERT_EQ(p.error, "");
  ASSERT_EQ(p.command.keys, 3u);
  EXPECT_EQ(p.command.Key(mset, 1), "b");
  EXPECT_EQ(p.command.PlanFor(mset, 2).value, "3");
  EXPECT_EQ(Plan({"MSET", "a", "1", "b"}).error,
            "ERR wrong number of arguments for 'mset' command");
  std::vector<std::string_view> del = {"DEL", "a", "b"};
  const Planned d = Plan(del);
  EXPECT_EQ(d.command.keys, 2u);
  EXPECT_EQ(d.command.Key(del, 1), "b");
  EXPECT_TRUE(d.command.plan.tombstone);
  EXPECT_EQ(Plan({"MGET", "a", "b", "c"}).command.keys, 3u);
}

TEST(PlanKeyCommand, KeyTooLongIsRefused) {
  const std::string huge(kMaxKeyBytes + 1, 'k');
  EXPECT_EQ(Plan({"GET", huge}).error, "ERR key is too long (Shoal's limit is 524288 bytes)");
  EXPECT_EQ(Plan({"MSET", "a", "1", huge, "2"}).error,
            "ERR key is too long (Shoal's limit is 524288 bytes)");
}

// A value whose Put frame would exceed the smallest frame the nodes accept is refused before
// anything is sent; MSET is refused whole.
TEST(PlanKeyCommand, ValueLargerThanTheNodesAcceptIsRefused) {
  const std::string value(1000, 'v');
  EXPECT_EQ(Plan({"SET", "k", value}, 1257).error, "");  // key + value + 256 bytes of frame
  EXPECT_EQ(Plan({"SET", "k", value}, 1000).error,
            "ERR value too large: 1000 bytes, the storage nodes accept at most 743 bytes for this "
            "key (node --max-frame-size 1000)");
  EXPECT_NE(Plan({"PSETEX", "k", "10", value}, 1000).error, "");
  EXPECT_NE(Plan({"SET", "k", value, "NX"}, 1000).error, "");
  EXPECT_NE(Plan({"MSET", "a", "1", "b", value}, 1000).error, "");
  EXPECT_EQ(Plan({"SET", "k", "v", "EX", "0"}, 1000).error,
            "ERR invalid expire time in 'set' command");  // argument errors come first
}

}  // namespace
}  // namespace shoal::proxy
