#include "node/server/node_config.h"

#include <gtest/gtest.h>

#include <vector>

namespace shoal::node {
namespace {

Status Parse(std::vector<const char*> args, NodeConfig* config) {
  args.insert(args.begin(), "shoal-node");
  Options options("shoal-node", "test");
  RegisterNodeOptions(options, config);
  Status s = options.Parse(static_cast<int>(args.size()), args.data());
  if (!s.ok()) return s;
  return ValidateNodeConfig(config);
}

TEST(NodeConfigTest, DefaultsWithAnId) {
  NodeConfig c;
  ASSERT_TRUE(Parse({"--id", "a"}, &c).ok());
  EXPECT_EQ(c.listen_address.host, "127.0.0.1");
  EXPECT_EQ(c.listen_address.port, 7000);
  EXPECT_EQ(c.max_memory, 256ull << 20);
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.cluster, "shoal");
  EXPECT_EQ(c.max_frame_size, 64ull << 20);
}

TEST(NodeConfigTest, FlagsAndSizes) {
  NodeConfig c;
  ASSERT_TRUE(Parse({"--id=b", "--listen", "0.0.0.0:7100", "--max-memory", "2gb", "--threads", "4",
                     "--max-frame-size", "1mb", "--cluster", "prod"},
                    &c)
                  .ok());
  EXPECT_EQ(c.listen_address.port, 7100);
  EXPECT_EQ(c.max_memory, 2ull << 30);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.max_frame_size, 1ull << 20);
  EXPECT_EQ(c.cluster, "prod");
}

TEST(NodeConfigTest, StandaloneWithoutNodes) {
  NodeConfig c;
  ASSERT_TRUE(Parse({"--id", "a"}, &c).ok());
  EXPECT_EQ(c.ring, nullptr);
  EXPECT_EQ(c.self, -1);
  EXPECT_EQ(c.replicas, 3);
}

TEST(NodeConfigTest, HintFlags) {
  NodeConfig c;
  ASSERT_TRUE(Parse({"--id", "a"}, &c).ok());
  EXPECT_EQ(c.hint_window_ms, 3 * 3'600'000);
  EXPECT_EQ(c.hint_max_bytes, 1ull << 30);
  EXPECT_EQ(c.hint_replay_rate, 5000);
  ASSERT_TRUE(Parse({"--id", "a", "--hint-window", "0", "--hint-max-bytes", "4kb",
                     "--hint-replay-rate", "100"},
                    &c)
                  .ok());
  EXPECT_EQ(c.hint_window_ms, 0);
  EXPECT_EQ(c.hint_max_bytes, 4096u);
  EXPECT_EQ(c.hint_replay_rate, 100);
  for (const auto& [text, ms] :
       std::vector<std::pair<const char*, int64_t>>{{"250ms", 250},
                                                    {"90s", 90'000},
                                                    {"30M", 1'800'000},
                                                    {" 2d ", 172'800'000},
                                                    {"0s", 0},
                                                    {"30d", 2'592'000'000}}) {
    NodeConfig d;
    ASSERT_TRUE(Parse({"--id", "a", "--hint-window", text}, &d).ok()) << text;
    EXPECT_EQ(d.hint_window_ms, ms) << text;
  }
}

TEST(NodeConfigTest, NodesBuildTheProxiesRing) {
  NodeConfig c;
  ASSERT_TRUE(Parse({"--id", "b", "--nodes", "a=127.0.0.1:7001, b=127.0.0.1:7002,c=h:7003",
                     "--replicas", "2", "--tokens-per-node", "64"},
                    &c)
                  .ok());
  ASSERT_NE(c.ring, nullptr);
  ASSERT_EQ(c.ring->members().size(), 3u);
  EXPECT_EQ(c.self, 1);
  EXPECT_EQ(c.ring->members()[2].address, "h:7003");
  EXPECT_EQ(c.replicas, 2);
  // The same members and tokens give the ring the proxies compute (it is a pure function of them).
  auto same = Ring::Build({{"a", "127.0.0.1:7001"}, {"b", "127.0.0.1:7002"}, {"c", "h:7003"}}, 64);
  ASSERT_TRUE(same.ok());
  for (const char* key : {"k1", "k2", "{tag}x", "another"}) {
    EXPECT_EQ(c.ring->OwnersOfKey(key, 2), (*same)->OwnersOfKey(key, 2)) << key;
  }
}

TEST(NodeConfigTest, YamlKeysAreTheFlagNames) {
  NodeConfig c;
  Options options("shoal-node", "test");
  RegisterNodeOptions(options, &c);
  ASSERT_TRUE(options.LoadYamlString("id: n1\nmax_memory: 64mb\nthreads: 1\n").ok());
  ASSERT_TRUE(ValidateNodeConfig(&c).ok());
  EXPECT_EQ(c.id, "n1");
  EXPECT_EQ(c.max_memory, 64ull << 20);
}

TEST(NodeConfigTest, RefusesBadValuesNamingTheFlag) {
  struct Case {
    std::vector<const char*> args;
    const char* mention;
  };
  const std::vector<Case> cases = {
      {{}, "--id"},
      {{"--id", "a", "--threads", "0"}, "--threads"},
      {{"--id", "a", "--threads", "x"}, "--threads"},
      {{"--id", "a", "--max-memory", "12qb"}, "--max-memory"},
      {{"--id", "a", "--max-memory", "100k"}, "--max-memory"},
      {{"--id", "a", "--listen", "nope"}, "--listen"},
      {{"--id", "a", "--listen", "h:99999"}, "--listen"},
      {{"--id", "a", "--max-frame-size", "10"}, "--max-frame-size"},
      {{"--id", "a", "--max-clock-offset-ms", "0"}, "--max-clock-offset-ms"},
      {{"--id", "a", "--log-level", "loud"}, "--log-level"},
      {{"--id", "a", "--tombstone-grace-ms", "-1"}, "--tombstone-grace-ms"},
      {{"--id", "a", "--tombstone-grace-ms", "2592000001"}, "--tombstone-grace-ms"},
      {{"--id", "a", "--tombstone-grace-ms", "9223372036854775807"}, "--tombstone-grace-ms"},
      {{"--id", "a", "--nodes", "b=127.0.0.1:7001"}, "--nodes must list this node's own id 'a'"},
      {{"--id", "a", "--nodes", "a=127.0.0.1:7001,a=127.0.0.1:7002"}, "--nodes: duplicate"},
      {{"--id", "a", "--nodes", "a127.0.0.1:7001"}, "--nodes: expected ID=HOST:PORT"},
      {{"--id", "a", "--nodes", "a=nowhere"}, "--nodes"},
      {{"--id", "a", "--replicas", "0"}, "--replicas"},
      {{"--id", "a", "--replicas", "9"}, "--replicas"},
      {{"--id", "a", "--tokens-per-node", "0"}, "--tokens-per-node"},
      {{"--id", "a", "--hint-window", "3"}, "--hint-window: bad duration '3'"},
      {{"--id", "a", "--hint-window", "1.5h"}, "--hint-window: bad duration"},
      {{"--id", "a", "--hint-window", "-1s"}, "--hint-window: bad duration"},
      {{"--id", "a", "--hint-window", "31d"}, "--hint-window must be at most 30d"},
      {{"--id", "a", "--hint-window", "99999999999999999d"}, "--hint-window: duration too large"},
      {{"--id", "a", "--hint-replay-rate", "0"}, "--hint-replay-rate"},
      {{"--id", "a", "--hint-max-bytes", "lots"}, "--hint-max-bytes"},
  };
  for (const auto& tc : cases) {
    NodeConfig c;
    Status s = Parse(tc.args, &c);
    EXPECT_FALSE(s.ok()) << tc.mention;
    EXPECT_NE(s.message().find(tc.mention), std::string::npos) << s.message();
  }
}

TEST(NodeConfigTest, TombstoneGraceUpToThirtyDays) {
  NodeConfig c;
  ASSERT_TRUE(Parse({"--id", "a", "--tombstone-grace-ms", "2592000000"}, &c).ok());
  EXPECT_EQ(c.tombstone_grace_ms, 2'592'000'000);
  NodeConfig zero;
  ASSERT_TRUE(Parse({"--id", "a", "--tombstone-grace-ms", "0"}, &zero).ok());
  EXPECT_EQ(zero.tombstone_grace_ms, 0);
}

// With members (hints replayed, anti-entropy), a tombstone must outlive the hint window and two
// anti-entropy intervals; the default does (3h window, 60 s interval, 4h02m grace).
TEST(NodeConfigTest, TombstoneGraceOutlivesHintWindowAndAntiEntropy) {
  const std::vector<const char*> members = {"--id", "a", "--nodes", "a=127.0.0.1:7001"};
  auto with = [&](std::vector<const char*> extra) {
    std::vector<const char*> args = members;
    args.insert(args.end(), extra.begin(), extra.end());
    NodeConfig c;
    return Parse(args, &c);
  };
  EXPECT_TRUE(with({}).ok());
  EXPECT_GT(NodeConfig{}.tombstone_grace_ms, 3 * 3'600'000 + 2 * 60'000);
  const Status short_grace = with({"--tombstone-grace-ms", "3600000"});
  ASSERT_FALSE(short_grace.ok());
  EXPECT_NE(short_grace.message().find("--tombstone-grace-ms must be longer than --hint-window"),
            std::string::npos)
      << short_grace.message();
  EXPECT_FALSE(with({"--hint-window", "1h", "--anti-entropy-interval-ms", "60000",
                     "--tombstone-grace-ms", "3720000"})
                   .ok());  // exactly 1h + 2 min: not longer
  EXPECT_TRUE(with({"--hint-window", "1h", "--anti-entropy-interval-ms", "60000",
                    "--tombstone-grace-ms", "3720001"})
                  .ok());
  EXPECT_FALSE(with({"--hint-window", "5h"}).ok());  // the default grace is too short for it
  // Element tombstones (hash fields, set members): the same bound, their own flag.
  EXPECT_GT(NodeConfig{}.element_tombstone_grace_ms, 3 * 3'600'000 + 2 * 60'000);
  const Status short_element = with({"--element-tombstone-grace-ms", "10800000"});
  ASSERT_FALSE(short_element.ok());
  EXPECT_NE(short_element.message().find("--element-tombstone-grace-ms must be longer than"),
            std::string::npos)
      << short_element.message();
  EXPECT_TRUE(with({"--hint-window", "1h", "--anti-entropy-interval-ms", "60000",
                    "--element-tombstone-grace-ms", "3720001"})
                  .ok());
  NodeConfig standalone;
  ASSERT_TRUE(Parse({"--id", "a", "--element-tombstone-grace-ms", "0"}, &standalone).ok());
  EXPECT_EQ(standalone.element_tombstone_grace_ms, 0);
  EXPECT_FALSE(Parse({"--id", "a", "--element-tombstone-grace-ms", "-1"}, &standalone).ok());
  EXPECT_TRUE(
      with({"--hint-window", "0", "--anti-entropy-interval-ms", "0", "--tombstone-grace-ms", "1"})
          .ok());
}

}  // namespace
}  // namespace shoal::node
