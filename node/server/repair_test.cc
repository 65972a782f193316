#include "node/server/repair.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock/clock.h"
#include "common/config/options.h"
#include "node/server/anti_entropy.h"
#include "node/server/node_config.h"
#include "node/server/node_context.h"
#include "schemas/shoal_generated.h"

namespace shoal::node {
namespace {

TEST(RepairRequestsTest, RequestsQueuedBeforeARoundAreServedTogetherLaterOnesWait) {
  RepairRequests q;
  int answered = 0;
  EXPECT_TRUE(q.Add([&](const RepairResult&) { ++answered; }));
  EXPECT_TRUE(q.Add([&](const RepairResult&) { ++answered; }));
  std::vector<RepairDone> round = q.TakeAll();
  ASSERT_EQ(round.size(), 2u);
  EXPECT_TRUE(q.empty());
  // Arrives while the round runs: not one of its requests.
  EXPECT_TRUE(q.Add([&](const RepairResult&) { answered += 10; }));
  for (RepairDone& done : round) done(RepairRoundResult(1, {}, 0, 0));
  EXPECT_EQ(answered, 2);
  std::vector<RepairDone> next = q.TakeAll();
  ASSERT_EQ(next.size(), 1u);
  next[0](RepairRoundResult(1, {}, 0, 0));
  EXPECT_EQ(answered, 12);
}

TEST(RepairRequestsTest, CloseReturnsTheQueuedAndRefusesMore) {
  RepairRequests q;
  EXPECT_TRUE(q.Add([](const RepairResult&) {}));
  EXPECT_EQ(q.Close().size(), 1u);
  EXPECT_TRUE(q.closed());
  bool called = false;
  EXPECT_FALSE(q.Add([&](const RepairResult&) { called = true; }));
  EXPECT_TRUE(q.TakeAll().empty());
  EXPECT_FALSE(called);
}

TEST(RepairResultTest, RoundSummaryNamesTheFailedPeers) {
  RepairResult clean = RepairRoundResult(3, {}, 7, 70);
  EXPECT_TRUE(clean.ok);
  EXPECT_EQ(clean.error, "");
  EXPECT_EQ(clean.peers, 3u);
  EXPECT_EQ(clean.keys_repaired, 7u);
  EXPECT_EQ(clean.bytes_repaired, 70u);
  RepairResult partial = RepairRoundResult(1, {"b: refused", "c: timed out"}, 0, 0);
  EXPECT_TRUE(partial.ok);
  EXPECT_EQ(partial.error, "2 of 3 peers not repaired: b: refused; c: timed out");
  RepairResult refused = RepairRefused("no members");
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.error, "no members");
}

TEST(RepairResultTest, ResponseFrameCarriesEveryField) {
  FrameBuilder fb;
  RepairResult r = RepairRoundResult(2, {"c: refused"}, 5, 1234);
  std::span<const uint8_t> frame = BuildRepairResponseFrame(fb, 42, r);
  const wire::Envelope* env = wire::GetSizePrefixedEnvelope(frame.data());
  ASSERT_EQ(env->request_id(), 42u);
  const wire::RepairResponse* resp = env->message_as_RepairResponse();
  ASSERT_NE(resp, nullptr);
  EXPECT_TRUE(resp->ok());
  EXPECT_EQ(resp->peers(), 2u);
  EXPECT_EQ(resp->keys_repaired(), 5u);
  EXPECT_EQ(resp->bytes_repaired(), 1234u);
  EXPECT_EQ(resp->error()->str(), "1 of 3 peers not repaired: c: refused");
}

// ---- the driver, with peers that refuse connections (no node runs on their ports) --------------

// A port on 127.0.0.1 nobody listens on (bound, then closed).
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

NodeConfig ClusterConfig(const std::string& interval_ms) {
  NodeConfig config;
  const std::string self = "127.0.0.1:" + std::to_string(ClosedPort());
  const std::string nodes = "a=" + self + ",b=127.0.0.1:" + std::to_string(ClosedPort()) +
                            ",c=127.0.0.1:" + std::to_string(ClosedPort());
  std::vector<const char*> args = {
      "shoal-node",       "--id",    "a",           "--listen",
      self.c_str(),       "--nodes", nodes.c_str(), "--anti-entropy-interval-ms",
      interval_ms.c_str()};
  Options options("shoal-node", "test");
  RegisterNodeOptions(options, &config);
  EXPECT_TRUE(options.Parse(static_cast<int>(args.size()), args.data()).ok());
  EXPECT_TRUE(ValidateNodeConfig(&config).ok());
  return config;
}

// Collects results from the driver's thread.
struct Answers {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RepairResult> results;
  std::vector<std::thread::id> threads;

  RepairDone Done() {
    return [this](const RepairResult& r) {
      std::lock_guard<std::mutex> lock(mu);
      results.push_back(r);
      threads.push_back(std::this_thread::get_id());
      cv.notify_all();
    };
  }
  void WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return results.size() >= n; });
  }
};

TEST(AntiEntropyRepairTest, OnDemandRoundRunsWithIntervalZeroAndServesQueuedRequestsTogether) {
  const NodeConfig config = ClusterConfig("0");
  FakeClock clock;
  NodeContext node(config, clock);
  AntiEntropy driver(node);
  Answers answers;
  // Both queued before the thread starts: one round serves them.
  ASSERT_TRUE(driver.RequestRepair(answers.Done()));
  ASSERT_TRUE(driver.RequestRepair(answers.Done()));
  driver.Start();
  answers.WaitFor(2);
  EXPECT_EQ(node.anti_entropy.rounds.Value(), 1u);
  EXPECT_EQ(node.anti_entropy.repairs.Value(), 1u);
  for (size_t i = 0; i < 2; ++i) {
    const RepairResult& r = answers.results[i];
    EXPECT_TRUE(r.ok);  // a round ran; no peer could be compared
    EXPECT_EQ(r.peers, 0u);
    EXPECT_EQ(r.keys_repaired, 0u);
    EXPECT_NE(r.error.find("2 of 2 peers not repaired: b: "), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("; c: "), std::string::npos) << r.error;
    EXPECT_NE(answers.threads[i], std::this_thread::get_id());
  }
  // A later request gets a round of its own.
  ASSERT_TRUE(driver.RequestRepair(answers.Done()));
  answers.WaitFor(3);
  EXPECT_EQ(node.anti_entropy.rounds.Value(), 2u);
  EXPECT_EQ(node.anti_entropy.repairs.Value(), 2u);
  driver.Stop();
  EXPECT_FALSE(driver.RequestRepair(answers.Done()));
  EXPECT_EQ(answers.results.size(), 3u);
}

TEST(AntiEntropyRepairTest, StopAnswersQueuedRequestsShuttingDown) {
  const NodeConfig config = ClusterConfig("0");
  FakeClock clock;
  NodeContext node(config, clock);
  AntiEntropy driver(node);
  Answers answers;
  ASSERT_TRUE(driver.RequestRepair(answers.Done()));  // the thread never started
  driver.Stop();
  ASSERT_EQ(answers.results.size(), 1u);
  EXPECT_FALSE(answers.results[0].ok);
  EXPECT_EQ(answers.results[0].error, "the node is shutting down");
  EXPECT_EQ(answers.threads[0], std::this_thread::get_id());
  EXPECT_EQ(node.anti_entropy.rounds.Value(), 0u);
  driver.Stop();  // idempotent
  EXPECT_EQ(answers.results.size(), 1u);
}

}  // namespace
}  // namespace shoal::node
