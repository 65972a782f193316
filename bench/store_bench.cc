// store_bench: how smooth one ShardStore is on its shard's loop thread (issue 7, items 4 and 5).
//
//   growth  inserts --entries keys (default 4M) into one empty store and times every Put:
//           the worst single insert and the tail percentiles show whether table growth pauses
//           the loop (a full rehash took ~290 ms at 4M entries).
//   expiry  fills a store with --entries values that all expire at once, then runs active
//           expiry as the shard worker does, with its real time budget, and reports how many
//           timer ticks it takes to reclaim them, the longest tick, and what a tick costs when
//           nothing is dead.
//
// Build and run: `make bench-store` (or build/bin/store_bench --help). Not part of `make test`.
// Time is real (steady_clock); expiry deadlines use a FakeClock moved by hand.

#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "node/store/shard_store.h"

namespace shoal::node {
namespace {

using Steady = std::chrono::steady_clock;

uint64_t NanosSince(Steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - start).count();
}

// CPU time of this thread: unlike the wall clock it does not count the time other processes
// held the core, so on a loaded machine it still shows what the store itself spent.
uint64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct Options {
  size_t entries = 4'000'000;
  int rounds = 3;
  bool growth = true;
  bool expiry = true;
};

void Usage() {
  std::printf(
      "usage: store_bench [--entries N] [--rounds R] [--growth-only | --expiry-only]\n"
      "  --entries N   keys inserted into one ShardStore (default 4000000)\n"
      "  --rounds R    repeat the growth measurement R times (default 3)\n");
}

std::string Key(size_t i) {
  char key[32];
  std::snprintf(key, sizeof(key), "key:%010zu", i);
  return key;
}

double Percentile(std::vector<uint32_t>& ns, double p) {
  const size_t at = std::min(ns.size() - 1, static_cast<size_t>(p / 100.0 * ns.size()));
  std::nth_element(ns.begin(), ns.begin() + at, ns.end());
  return ns[at] / 1000.0;
}

std::string Summary(std::vector<uint32_t>& ns) {
  const double worst_us = *std::max_element(ns.begin(), ns.end()) / 1000.0;
  const size_t over_ms =
      std::count_if(ns.begin(), ns.end(), [](uint32_t t) { return t > 1'000'000; });
  char line[256];
  std::snprintf(line, sizeof(line),
                "worst %.0f us, p50 %.2f us, p99 %.2f us, p99.9 %.2f us, p99.99 %.2f us, "
                "%zu over 1 ms",
                worst_us, Percentile(ns, 50), Percentile(ns, 99), Percentile(ns, 99.9),
                Percentile(ns, 99.99), over_ms);
  return line;
}

// One round: a fresh store, every insert timed (wall clock; the thread's CPU time as well, which
// leaves out the time other processes held the core). Keeps, per insert index, the least wall
// time seen in any round so far: a pause that the store causes (a rehash) happens at the same
// insert every round and survives; a preemption or a hypervisor stall does not.
void Growth(const Options& options, int round, std::vector<uint32_t>& least_wall) {
  FakeClock clock;
  ShardStore store(clock, uint64_t{1} << 40, 60'000);
  std::vector<uint32_t> wall(options.entries);
  std::vector<uint32_t> cpu(options.entries);
  const std::string value(16, 'v');
  const Steady::time_point begin = Steady::now();
  const uint64_t begin_cpu = ThreadCpuNanos();
  for (size_t i = 0; i < options.entries; ++i) {
    const std::string key = Key(i);
    PutRequest put;
    put.key = key;
    put.value = value;
    put.version = Version{i + 1, 1};
    const uint64_t start_cpu = ThreadCpuNanos();
    const Steady::time_point start = Steady::now();
    store.Put(put);
    const uint64_t took = NanosSince(start);
    const uint64_t took_cpu = ThreadCpuNanos() - start_cpu;
    wall[i] = static_cast<uint32_t>(std::min<uint64_t>(took, UINT32_MAX));
    cpu[i] = static_cast<uint32_t>(std::min<uint64_t>(took_cpu, UINT32_MAX));
  }
  const double total_s = NanosSince(begin) / 1e9;
  const double total_cpu_s = (ThreadCpuNanos() - begin_cpu) / 1e9;
  for (size_t i = 0; i < options.entries; ++i) {
    least_wall[i] = round == 1 ? wall[i] : std::min(least_wall[i], wall[i]);
  }
  std::printf(
      "growth round %d: %zu inserts in %.2f s wall, %.2f s cpu (timing included)\n"
      "  wall per insert: %s\n  cpu per insert:  %s\n",
      round, options.entries, total_s, total_cpu_s, Summary(wall).c_str(), Summary(cpu).c_str());
}

// The shard worker's active expiry at the code's own cadence. Before ExpireCycle existed the
// worker ran ExpireSome(2000) every 100 ms, again while a quarter were removed, for at most 5 ms.
struct Tick {
  uint64_t ns;
  size_t removed;
};

#ifndef STORE_BENCH_OLD_EXPIRY
constexpr const char* kPolicy =
    "ExpireCycle: every 10 ms, <= 1 ms, 500-entry steps while >= 10% dead";
constexpr uint64_t kPeriodMs = 10;
Tick RunTick(ShardStore& store) {
  const Steady::time_point start = Steady::now();
  const ExpireCycleLimits limits{.step = 500, .repeat_percent = 10, .full_pass_calls = 6000};
  const ExpireCycleResult r =
      store.ExpireCycle(limits, [start] { return NanosSince(start) >= 1'000'000; });
  return {NanosSince(start), r.removed};
}
#else
constexpr const char* kPolicy = "old: every 100 ms, ExpireSome(2000) while >= 25% removed, <= 5 ms";
constexpr uint64_t kPeriodMs = 100;
Tick RunTick(ShardStore& store) {
  const Steady::time_point start = Steady::now();
  size_t removed = 0, total = 0;
  do {
    removed = store.ExpireSome(2000);
    total += removed;
  } while (removed * 4 >= 2000 && NanosSince(start) < 5'000'000);
  return {NanosSince(start), total};
}
#endif

void Expiry(const Options& options) {
  FakeClock clock;
  ShardStore store(clock, uint64_t{1} << 40, 3'600'000);
  const std::string value(16, 'v');
  for (size_t i = 0; i < options.entries; ++i) {
    const std::string key = Key(i);
    PutRequest put;
    put.key = key;
    put.value = value;
    put.version = Version{i + 1, 1};
    put.expire_at_ms = clock.NowMs() + 1000;
    store.Put(put);
  }
  // Nothing dead yet: what a tick costs on a full table.
  uint64_t idle_ns = 0, idle_worst = 0;
  constexpr int kIdleTicks = 100;
  for (int i = 0; i < kIdleTicks; ++i) {
    const Tick t = RunTick(store);
    idle_ns += t.ns;
    idle_worst = std::max(idle_worst, t.ns);
  }
  clock.Advance(1000);  // all expire at once
  size_t ticks = 0;
  uint64_t busy_ns = 0;
  std::vector<uint32_t> tick_ns;
  while (store.stats().expirations.Value() < options.entries) {
    const Tick t = RunTick(store);
    ++ticks;
    busy_ns += t.ns;
    tick_ns.push_back(static_cast<uint32_t>(std::min<uint64_t>(t.ns, UINT32_MAX)));
    if (ticks > 10'000'000) break;
  }
  const uint64_t worst_ns = *std::max_element(tick_ns.begin(), tick_ns.end());
  const double median_tick_ms = Percentile(tick_ns, 50) / 1000.0;
  const double p99_tick_ms = Percentile(tick_ns, 99) / 1000.0;
  std::printf(
      "expiry (%s): idle tick %.0f us avg, %.0f us worst; %zu values expiring at once "
      "reclaimed in %zu ticks = %.1f s at the cadence, %.2f s of loop time; tick median %.2f ms, "
      "p99 %.2f ms, longest %.2f ms\n",
      kPolicy, idle_ns / 1000.0 / kIdleTicks, idle_worst / 1000.0, options.entries, ticks,
      ticks * kPeriodMs / 1000.0, busy_ns / 1e9, median_tick_ms, p99_tick_ms, worst_ns / 1e6);
}

}  // namespace
}  // namespace shoal::node

int main(int argc, char** argv) {
  shoal::node::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--entries" && i + 1 < argc) {
      options.entries = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--rounds" && i + 1 < argc) {
      options.rounds = std::atoi(argv[++i]);
    } else if (arg == "--growth-only") {
      options.expiry = false;
    } else if (arg == "--expiry-only") {
      options.growth = false;
    } else {
      shoal::node::Usage();
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  if (options.entries == 0 || options.rounds < 1) {
    shoal::node::Usage();
    return 2;
  }
  // The node's malloc settings (node/main.cc): large blocks always come from mmap.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
  if (options.growth) {
    std::vector<uint32_t> least_wall(options.entries);
    for (int r = 1; r <= options.rounds; ++r) shoal::node::Growth(options, r, least_wall);
    if (options.rounds > 1) {
      std::printf("growth, least wall time per insert over %d rounds: %s\n", options.rounds,
                  shoal::node::Summary(least_wall).c_str());
    }
  }
  if (options.expiry) shoal::node::Expiry(options);
  return 0;
}
