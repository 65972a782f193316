#pragma once

// NodeContext: what every shard thread of a node shares. Built by NodeServer before any thread
// starts and read-only afterwards, except the HLC (lock-free, thread-safe) and the workers'
// own counters (see ShardWorker).

#include <cstdint>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "node/server/node_config.h"

namespace shoal::node {

class ShardWorker;

struct NodeContext {
  NodeContext(const NodeConfig& config, const Clock& clock)
      : config(config),
        clock(clock),
        hlc(clock, config.max_clock_offset_ms),
        start_monotonic_ms(clock.MonotonicMs()) {}

  const NodeConfig& config;
  const Clock& clock;
  HybridLogicalClock hlc;             // node-wide: every write's version is merged into it
  std::vector<ShardWorker*> workers;  // index = shard; fixed before the threads start
  const int64_t start_monotonic_ms;
};

}  // namespace shoal::node
