#pragma once

// NodeContext: what every shard thread of a node shares. Built by NodeServer before any thread
// starts and read-only afterwards, except the clock ceiling (thread-safe, see clock_ceiling.h)
// and the workers' own counters (see ShardWorker). No shared clock is written on the request
// path: each shard's store tracks its own highest version, and the node's max is the max over
// the shards (NodeMaxHlc), taken only when asked (Hello, Info, persistence).

#include <cstdint>
#include <vector>

#include "common/clock/clock.h"
#include "node/server/clock_ceiling.h"
#include "node/server/node_config.h"

namespace shoal::node {

class ShardWorker;
namespace hints {
class HintService;
}

struct NodeContext {
  NodeContext(const NodeConfig& config, const Clock& clock)
      : config(config), clock(clock), start_monotonic_ms(clock.MonotonicMs()) {}

  const NodeConfig& config;
  const Clock& clock;
  // The cluster's members (config.ring, config.self): nullptr / -1 for a standalone node.
  const RingPtr ring = config.ring;
  const int self = config.self;
  std::vector<ShardWorker*> workers;  // index = shard; fixed before the threads start
  // Hinted handoff (node/hints/hint_service.h): set before the threads start when the node has
  // members (ring); nullptr for a standalone node, which refuses HintPuts.
  hints::HintService* hints = nullptr;
  const int64_t start_monotonic_ms;
  // Set by NodeServer::Restore() before the threads start; read-only afterwards.
  uint64_t restored_max_hlc = 0;          // the bound found in <data-dir>/hlc at start-up
  int64_t warmup_until_monotonic_ms = 0;  // before this, Get and Touch answer NotReady
  ClockCeiling ceiling;                   // versions above durable() wait for a persist
};

}  // namespace shoal::node
