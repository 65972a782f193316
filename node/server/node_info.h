#pragma once

// Node-wide readings assembled from every shard's counters (safe from any shard thread).

#include <cstdint>
#include <span>

#include "common/wire/frame.h"
#include "node/server/node_context.h"

namespace shoal::node {

// The highest HLC the node holds or held: the max over the shards' stores and the bound restored
// at start-up. Any thread.
uint64_t NodeMaxHlc(const NodeContext& node);

// An InfoResponse frame with one entry per reading: node_id, cluster, protocol_version, shards,
// uptime_seconds, max_hlc, clock_ceiling, ready (0 during the warm-up), warmup_remaining_ms, the
// stores' totals (keys, tombstones, memory_used_bytes,
// memory_limit_bytes, evictions, expirations, tombstones_purged, stale_writes),
// memory_outside_store_bytes (buffers and batches, see ShardWorker) and the network
// counters of server_stats.h. Valid until `builder`'s next Start().
std::span<const uint8_t> BuildInfoFrame(const NodeContext& node, uint64_t request_id,
                                        FrameBuilder& builder);

}  // namespace shoal::node
