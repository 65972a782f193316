// The membership gossip simulation (gossip_sim.h): a small cluster converges and detects a
// failure in the unit suite; SHOAL_GOSSIP_SIM_FIGURES=1 runs the 10 / 100 / 1000-node figures of
// docs/membership.md:
//   SHOAL_GOSSIP_SIM_FIGURES=1 build/bin/tests/gossip_sim_test --gtest_filter='*Figures*'

#include "tools/sim/gossip_sim.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace shoal::sim {
namespace {

struct Figures {
  double converge_rounds = -1;  // all started in one interval -> every node knows every node
  double bytes_per_node_s = 0;  // steady state, whole frames sent
  double messages_per_node_s = 0;
  int false_down_pairs = 0;       // most (observer, member) false suspicions at one check
  double first_down_rounds = -1;  // after a kill: the first running node sees it Down
  double all_down_rounds = -1;    // ... every running node does
  double back_rounds = -1;        // after its restart: every node sees it Normal again
  double join_rounds = -1;        // a new node: every node knows it
};

Figures Measure(const GossipSimOptions& o) {
  Figures f;
  GossipSim sim(o);
  const double interval = static_cast<double>(o.interval_ms);
  const int64_t step = o.interval_ms / 10;
  const int64_t limit = 200 * o.interval_ms;
  sim.StartAll();
  int64_t t = sim.RunUntil(limit, step, [&] { return sim.AllKnowAll(); });
  if (t < 0) return f;
  f.converge_rounds = t / interval;

  // Steady state: let the detectors learn, then count traffic and false suspicions.
  sim.RunTo(sim.now() + 10 * o.interval_ms);
  const GossipTraffic before = sim.traffic();
  const int64_t window = 10 * o.interval_ms;
  sim.RunUntil(sim.now() + window, o.interval_ms, [&] {
    f.false_down_pairs = std::max(f.false_down_pairs, sim.FalseDownPairs());
    return false;
  });
  const double node_seconds = static_cast<double>(o.nodes) * (window / 1000.0);
  f.bytes_per_node_s = (sim.traffic().bytes - before.bytes) / node_seconds;
  f.messages_per_node_s = (sim.traffic().messages - before.messages) / node_seconds;

  // One node (not a seed) fails.
  const int victim = o.nodes - 1;
  sim.Kill(victim);
  const int64_t killed_at = sim.now();
  t = sim.RunUntil(sim.now() + limit, step,
                   [&] { return sim.CountSeeing(victim, MemberState::kDown) > 0; });
  if (t >= 0) f.first_down_rounds = (t - killed_at) / interval;
  t = sim.RunUntil(sim.now() + limit, step,
                   [&] { return sim.CountSeeing(victim, MemberState::kDown) == sim.running(); });
  if (t >= 0) f.all_down_rounds = (t - killed_at) / interval;

  // It restarts with the same id, empty, knowing only the seeds.
  sim.Start(victim);
  const int64_t restarted_at = sim.now();
  t = sim.RunUntil(sim.now() + limit, step, [&] {
    return sim.CountSeeing(victim, MemberState::kNormal) == sim.running() - 1 && sim.AllKnowAll();
  });
  if (t >= 0) f.back_rounds = (t - restarted_at) / interval;

  // A new node joins.
  const int added = sim.AddNode();
  sim.Start(added);
  const int64_t joined_at = sim.now();
  t = sim.RunUntil(sim.now() + limit, step, [&] { return sim.AllKnowAll(); });
  if (t >= 0) f.join_rounds = (t - joined_at) / interval;
  return f;
}

TEST(GossipSimTest, SmallClusterConvergesDetectsAFailureAndTakesTheNodeBack) {
  GossipSimOptions o;
  o.nodes = 12;
  o.seeds = 2;
  o.loss = 0.1;
  o.seed = 42;
  const Figures f = Measure(o);
  // log2(12) is about 3.6 rounds of push-pull; with seeds only at first and 10% loss, a few more.
  ASSERT_GT(f.converge_rounds, 0) << "never converged";
  EXPECT_LT(f.converge_rounds, 10);
  EXPECT_EQ(f.false_down_pairs, 0);
  // Detection: interval 1 s, acceptable pause 2 s, deviation floor 500 ms: at least 5.6 s of
  // silence (more where news arrives irregularly), plus the time the last news took to arrive.
  ASSERT_GT(f.first_down_rounds, 0) << "never seen down";
  EXPECT_GT(f.first_down_rounds, 4);
  EXPECT_LT(f.all_down_rounds, 14);
  ASSERT_GT(f.back_rounds, 0) << "never back";
  EXPECT_LT(f.back_rounds, 10);
  ASSERT_GT(f.join_rounds, 0) << "never joined";
  EXPECT_LT(f.join_rounds, 10);
  // 12 digests (~40 bytes each) out and back, records both ways: a few KB per node per second.
  EXPECT_GT(f.bytes_per_node_s, 500);
  EXPECT_LT(f.bytes_per_node_s, 10'000);
}

TEST(GossipSimTest, SameSeedSameRun) {
  GossipSimOptions o;
  o.nodes = 8;
  o.loss = 0.2;
  o.seed = 9;
  GossipSim a(o), b(o);
  a.StartAll();
  b.StartAll();
  a.RunTo(30'000);
  b.RunTo(30'000);
  EXPECT_EQ(a.traffic().bytes, b.traffic().bytes);
  EXPECT_EQ(a.traffic().lost, b.traffic().lost);
  for (int i = 0; i < o.nodes; ++i) EXPECT_EQ(a.table(i).Records(), b.table(i).Records());
}

TEST(GossipSimTest, TotalLossNeverConverges) {
  GossipSimOptions o;
  o.nodes = 5;
  o.loss = 1.0;
  GossipSim sim(o);
  sim.StartAll();
  EXPECT_EQ(sim.RunUntil(60'000, 100, [&] { return sim.AllKnowAll(); }), -1);
  EXPECT_EQ(sim.table(4).size(), 1u);
}

TEST(GossipSimFigures, Report) {
  if (std::getenv("SHOAL_GOSSIP_SIM_FIGURES") == nullptr) {
    GTEST_SKIP() << "set SHOAL_GOSSIP_SIM_FIGURES=1 for the 10/100/1000-node figures";
  }
  std::printf(
      "| nodes | loss | converge (rounds) | bytes/node/s | msgs/node/s | false DOWN | first DOWN "
      "(rounds) | all DOWN (rounds) | back NORMAL (rounds) | join (rounds) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  std::vector<int> sizes = {10, 100, 1000};
  if (const char* only = std::getenv("SHOAL_GOSSIP_SIM_NODES")) sizes = {std::atoi(only)};
  for (int nodes : sizes) {
    for (double loss : {0.0, 0.1}) {
      GossipSimOptions o;
      if (const char* v = std::getenv("SHOAL_GOSSIP_SIM_MIN_STD"))
        o.phi_min_std_dev_ms = std::atoi(v);
      if (const char* v = std::getenv("SHOAL_GOSSIP_SIM_PAUSE"))
        o.phi_acceptable_pause_ms = std::atoi(v);
      o.nodes = nodes;
      o.seeds = 3;
      o.loss = loss;
      o.seed = 1000 + nodes;
      const Figures f = Measure(o);
      std::printf("| %d | %.0f%% | %.1f | %.0f | %.1f | %d | %.1f | %.1f | %.1f | %.1f |\n", nodes,
                  loss * 100, f.converge_rounds, f.bytes_per_node_s, f.messages_per_node_s,
                  f.false_down_pairs, f.first_down_rounds, f.all_down_rounds, f.back_rounds,
                  f.join_rounds);
      std::fflush(stdout);
    }
  }
}

}  // namespace
}  // namespace shoal::sim
