// The deterministic replication simulation (tools/sim/sim_schedule.h) over many seeds.
//
//   SHOAL_SIM_SEED=n       runs only schedule n, with its event trace printed on failure
//   SHOAL_SIM_SCHEDULES=k  schedules per test (default below; more for a longer hunt)
//   SHOAL_SIM_FIRST=s      first seed (default 1)
//   SHOAL_SIM_KEYS, SHOAL_SIM_CLIENTS, SHOAL_SIM_COMMANDS, SHOAL_SIM_PROXY_OFFSET_MS
//                          override those options in every test (a different hunt)
//
// A failure prints the seed; rerunning with SHOAL_SIM_SEED reproduces it event for event.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tools/sim/sim_schedule.h"

namespace shoal::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::strtoull(v, nullptr, 10);
}

// Runs the schedules and fails on the first violation, printing its trace (the last lines).
void RunMany(SimOptions options, uint64_t default_schedules) {
  options.keys = static_cast<int>(EnvOr("SHOAL_SIM_KEYS", options.keys));
  options.clients = static_cast<int>(EnvOr("SHOAL_SIM_CLIENTS", options.clients));
  options.commands_per_client =
      static_cast<int>(EnvOr("SHOAL_SIM_COMMANDS", options.commands_per_client));
  options.max_proxy_clock_offset_ms =
      static_cast<int64_t>(EnvOr("SHOAL_SIM_PROXY_OFFSET_MS", options.max_proxy_clock_offset_ms));
  const char* one = std::getenv("SHOAL_SIM_SEED");
  uint64_t first = EnvOr("SHOAL_SIM_FIRST", 1);
  uint64_t count = EnvOr("SHOAL_SIM_SCHEDULES", default_schedules);
  if (one != nullptr && *one != '\0') {
    first = std::strtoull(one, nullptr, 10);
    count = 1;
  }
  const auto start = std::chrono::steady_clock::now();
  SimResult total;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimResult r = RunSchedule(seed, options);
    total.events += r.events;
    total.commands += r.commands;
    total.acknowledged += r.acknowledged;
    total.read_repairs += r.read_repairs;
    total.stale_retries += r.stale_retries;
    if (!r.ok) {
      SimOptions traced = options;
      traced.trace = true;
      const SimResult again = RunSchedule(seed, traced);
      // Determinism is part of the contract: the rerun must fail the same way.
      EXPECT_EQ(again.failure, r.failure) << "seed " << seed << " did not reproduce";
      std::string trace = again.trace;
      constexpr size_t kTail = 12000;
      if (trace.size() > kTail) trace = "...\n" + trace.substr(trace.size() - kTail);
      FAIL() << r.failure << "\n--- trace of seed " << seed << " ---\n" << trace;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%llu schedules from seed %llu: %llu events, %llu commands (%llu acknowledged), "
      "%llu read-repairs, %llu stale retries, %.2f s\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(first),
      static_cast<unsigned long long>(total.events),
      static_cast<unsigned long long>(total.commands),
      static_cast<unsigned long long>(total.acknowledged),
      static_cast<unsigned long long>(total.read_repairs),
      static_cast<unsigned long long>(total.stale_retries), seconds);
}

TEST(ReplicationSim, SameSeedSameRun) {
  SimOptions options;
  options.trace = true;
  for (uint64_t seed : {1, 2, 3, 77}) {
    const SimResult a = RunSchedule(seed, options);
    const SimResult b = RunSchedule(seed, options);
    EXPECT_EQ(a.trace, b.trace) << "seed " << seed;
    EXPECT_EQ(a.events, b.events);
    EXPECT_GT(a.commands, 0u);
  }
}

// SET, DEL and GET (and SET NX/XX/GET/KEEPTTL, GETDEL) with message loss, duplication, delay
// and reordering, nodes stopped and restarted empty, clock offsets between proxies. Seed 32 found
// a GET answering an empty value once the simulation drove the proxy's KeyOperation (a pair
// expired on one node resolved as a live value without its body; key_operation_test.cc).
TEST(ReplicationSim, ValueWrites) {
  SimOptions options;
  options.touches = false;
  RunMany(options, 1500);
}

// The same with PEXPIRE[AT] (future, past, NX/XX/GT/LT), PERSIST and GETEX mixed in. Seed 383
// once showed one pair with two states; it was the simulation's own resolution of that time (by
// version alone, the legacy coordinator's). Seed 14 found the expired-pair answer of seed 32.
TEST(ReplicationSim, ValueWritesAndTouches) {
  SimOptions options;
  RunMany(options, 1500);
}

// Acknowledged writes must also respect real-time order (a SET/DEL acknowledged before another
// began has a lower version). Seed 16 found that re-stamping only writes refused as stale by
// every replica loses acknowledged writes (p1's clock 73 ms behind p0's: p1's SET k0 was stamped
// below p0's acknowledged DEL, applied by a replica that had missed the DEL, refused by one that
// had it, and acknowledged); a write refused by any counted replica is now re-stamped.
TEST(ReplicationSim, RealTimeOrderOfAcknowledgedWrites) {
  SimOptions options;
  options.touches = false;
  options.check_real_time_order = true;
  RunMany(options, 1500);
}

// Seeds that longer hunts (SHOAL_SIM_SCHEDULES=100000) found, run in every build. 20743: a Put
// acknowledged by a replica still warming up (restarted empty, reads NotReady) counted toward W,
// so a later write was stamped below the acknowledged one without any replica refusing it and the
// acknowledged write was lost; such a PutResponse now says not_ready and is not counted.
TEST(ReplicationSim, SeedsFoundByHunts) {
  SimOptions options;
  options.touches = false;
  options.check_real_time_order = true;
  for (uint64_t seed : {20743}) {
    const SimResult r = RunSchedule(seed, options);
    EXPECT_TRUE(r.ok) << r.failure;
  }
}

// Everything at once: touches, conditionals and the real-time order of acknowledged writes.
TEST(ReplicationSim, TouchesAndRealTimeOrder) {
  SimOptions options;
  options.check_real_time_order = true;
  RunMany(options, 1500);
}

}  // namespace
}  // namespace shoal::sim
