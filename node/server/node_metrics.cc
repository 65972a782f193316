#include "node/server/node_metrics.h"

#include "node/hints/hint_service.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

namespace {

using metrics::Kind;
using metrics::Registry;

// A reading with no labels, computed when scraped.
void AddReading(NodeContext& node, Kind kind, const char* name, const char* help,
                std::function<double()> read) {
  node.metrics.AddCallback(
      kind, name, help, {},
      [read = std::move(read)](const Registry::Emit& emit) { emit({}, read()); }, &node);
}

void AttachHintMetrics(NodeContext& node) {
  hints::HintService* service = node.hints;
  if (service == nullptr) return;  // a standalone node holds no hints
  struct Reading {
    Kind kind;
    const char* name;
    const char* help;
    double (*get)(const hints::SpoolStats&);
  };
  static constexpr Reading kReadings[] = {
      {Kind::kGauge, "shoal_node_hints_pending", "Hints held for other nodes.",
       [](const hints::SpoolStats& s) { return static_cast<double>(s.pending); }},
      {Kind::kGauge, "shoal_node_hints_pending_bytes", "Bytes of the hints held.",
       [](const hints::SpoolStats& s) { return static_cast<double>(s.pending_bytes); }},
      {Kind::kGauge, "shoal_node_hints_oldest_age_seconds",
       "Age of the oldest hint held, to the second (0: none).",
       [](const hints::SpoolStats& s) { return static_cast<double>(s.oldest_age_ms) / 1000.0; }},
  };
  for (const Reading& r : kReadings) {
    AddReading(node, r.kind, r.name, r.help,
               [service, get = r.get] { return get(service->spool().Stats()); });
  }
  service->AttachMetrics(node.metrics, &node);
}

}  // namespace

bool NodeReady(const NodeContext& node) {
  return node.clock.MonotonicMs() >= node.warmup_until_monotonic_ms && !node.Syncing();
}

void AttachNodeMetrics(NodeContext& node) {
  {
    Registry& registry = node.metrics;
    const void* owner = &node;
    const metrics::Labels labels;
    {
      const auto& stats = node.anti_entropy;
      SHOAL_NODE_ANTI_ENTROPY_METRICS(SHOAL_METRIC_ATTACH)
    }
    const auto& stats = node.sync;
    SHOAL_NODE_SYNC_METRICS(SHOAL_METRIC_ATTACH)
  }
  AddReading(node, Kind::kGauge, "shoal_node_memory_limit_bytes",
             "Memory limit of the stores (--max-memory).", [&node] {
               double limit = 0;
               for (const ShardWorker* w : node.workers) {
                 limit += static_cast<double>(w->store().memory_limit());
               }
               return limit;
             });
  AddReading(node, Kind::kGauge, "shoal_node_shards", "Shard threads (--threads).",
             [&node] { return static_cast<double>(node.workers.size()); });
  AddReading(node, Kind::kGauge, "shoal_node_ready",
             "1 when the node serves reads: past its warm-up and its start-up sync.",
             [&node] { return NodeReady(node) ? 1.0 : 0.0; });
  node.metrics.AddCallback(
      Kind::kGauge, "shoal_node_sync_state",
      "Start-up sync state: 1 for the current one (off, syncing, done, partial).", {"state"},
      [&node](const Registry::Emit& emit) {
        const int current = node.sync_state.load(std::memory_order_acquire);
        for (int s = 0; s <= static_cast<int>(SyncState::kPartial); ++s) {
          emit({SyncStateName(s)}, s == current ? 1.0 : 0.0);
        }
      },
      &node);
  AttachHintMetrics(node);
}

void DetachNodeMetrics(NodeContext& node) { node.metrics.Detach(&node); }

void AttachShardMetrics(NodeContext& node, const ShardWorker& worker) {
  AttachServerStats(node.metrics, worker.stats());
  AttachShardStats(node.metrics, worker.store().stats());
  Registry& registry = node.metrics;
  const metrics::Labels labels;
  if (node.hints != nullptr) {  // a standalone node counts no hints
    const auto& stats = worker.hint_counters();
    const void* owner = &stats;
    SHOAL_HINT_SPOOL_METRICS(SHOAL_METRIC_ATTACH)
  }
  if (node.gossip != nullptr) {  // a node without --seeds does not gossip
    const auto& stats = worker.gossip_counters();
    const void* owner = &stats;
    SHOAL_GOSSIP_METRICS(SHOAL_METRIC_ATTACH)
  }
}

void DetachShardMetrics(NodeContext& node, const ShardWorker& worker) {
  node.metrics.Detach(&worker.stats());
  node.metrics.Detach(&worker.store().stats());
  node.metrics.Detach(&worker.hint_counters());
  node.metrics.Detach(&worker.gossip_counters());
}

}  // namespace shoal::node
