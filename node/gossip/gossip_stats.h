#pragma once

// GossipStats: the gossip counters, one set per thread that counts them: the gossip thread's (its
// rounds' exchanges, the members --dead-after removes) and each shard's (the members an operator
// removes through it, shoalctl remove). Each set is written by its thread only and read by any;
// the node attaches them all to the same series, which sum them (node/main.cc,
// node/server/node_metrics.cc). Kept apart from gossip_service.h so that the shards need not
// include it.

#include "common/metrics/cells.h"

namespace shoal::node {

// X(type, field, name, help); docs/operations.md, "Watch".
#define SHOAL_GOSSIP_METRICS(X)                                           \
  X(Counter, exchanges, "shoal_gossip_exchanges_total",                   \
    "Gossip exchanges this node started and completed.")                  \
  X(Counter, exchange_failures, "shoal_gossip_exchange_failures_total",   \
    "Gossip exchanges that failed (no connection, timeout, bad answer).") \
  X(Counter, members_removed, "shoal_gossip_members_removed_total",       \
    "Members this node marked REMOVED (--dead-after or shoalctl remove).")

struct GossipStats {
  SHOAL_GOSSIP_METRICS(SHOAL_METRIC_FIELD)
};

}  // namespace shoal::node
