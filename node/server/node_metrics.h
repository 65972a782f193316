#pragma once

// The node's metrics registry (NodeContext::metrics) wiring: which cells and readings it holds.
//
//   - per shard: the network cells (server_stats.h) and the store's (shard_store.h), attached by
//     AttachShardMetrics when the worker is created, detached by DetachShardMetrics before it is
//     freed;
//   - per node: the anti-entropy cells (node_context.h) and the readings computed when scraped
//     (memory limit, readiness, start-up sync progress, hint spool), by AttachNodeMetrics.
//
// Controlling thread (NodeServer::Start/Stop). Whatever the callbacks read is safe from any
// thread (atomics, the spool's own lock, values fixed before the threads start).

#include "node/server/node_context.h"

namespace shoal::node {

void AttachNodeMetrics(NodeContext& node);
void DetachNodeMetrics(NodeContext& node);
void AttachShardMetrics(NodeContext& node, const ShardWorker& worker);
void DetachShardMetrics(NodeContext& node, const ShardWorker& worker);

// 1 when the node serves reads: past its warm-up and not syncing (Info's ready, /readyz).
bool NodeReady(const NodeContext& node);

}  // namespace shoal::node
