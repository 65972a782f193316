#pragma once

// SpoolCounters: the hint counters, one set per thread that counts hints (see hint_spool.h,
// "Counters"): each shard (HintPuts refused, hints found expired on arrival), the writer (stored),
// the replayer (replayed, expired, rejected) and the rebalancer (a decommission's hand-off:
// replayed, expired). Each set is written by its thread only; the node attaches them all to the
// same series, which sum them. Kept apart from hint_spool.h so that the shards need not include
// RocksDB.

#include "common/metrics/cells.h"

namespace shoal::node::hints {

// The hint counters (docs/operations.md, "Watch"): X(type, field, name, help).
#define SHOAL_HINT_SPOOL_METRICS(X)                                                      \
  X(Counter, stored, "shoal_node_hints_stored_total", "Hints made durable since start.") \
  X(Counter, replayed, "shoal_node_hints_replayed_total",                                \
    "Hints delivered to their target and removed.")                                      \
  X(Counter, expired, "shoal_node_hints_expired_total",                                  \
    "Hints dropped: past the window or the key's expiry.")                               \
  X(Counter, refused, "shoal_node_hints_refused_total",                                  \
    "HintPuts refused: hints disabled or spool full.")                                   \
  X(Counter, rejected, "shoal_node_hints_rejected_total",                                \
    "Hints their target refused for good (BadRequest, TooLarge).")

// One thread's hint counters: written by that thread only, read by any.
struct SpoolCounters {
  SHOAL_HINT_SPOOL_METRICS(SHOAL_METRIC_FIELD)
};

}  // namespace shoal::node::hints
