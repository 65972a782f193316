#include "node/server/node_info.h"

#include <algorithm>
#include <string>
#include <vector>

#include "node/hints/hint_service.h"
#include "node/server/node_metrics.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

uint64_t NodeMaxHlc(const NodeContext& node) {
  uint64_t max_hlc = node.restored_max_hlc;
  for (const ShardWorker* w : node.workers) {
    max_hlc = std::max(max_hlc, w->store().stats().max_hlc.load(std::memory_order_relaxed));
  }
  return max_hlc;
}

std::span<const uint8_t> BuildInfoFrame(const NodeContext& node, uint64_t request_id,
                                        FrameBuilder& builder) {
  auto& b = builder.Start();
  std::vector<flatbuffers::Offset<wire::InfoEntry>> entries;
  auto add = [&](const char* name, const std::string& value) {
    entries.push_back(wire::CreateInfoEntry(b, b.CreateString(name), b.CreateString(value)));
  };
  auto add_number = [&](const char* name, uint64_t value) { add(name, std::to_string(value)); };

  add("node_id", node.config.id);
  add("cluster", node.config.cluster);
  add_number("protocol_version", kProtocolVersion);
  add_number("shards", node.workers.size());
  add_number("uptime_seconds", (node.clock.MonotonicMs() - node.start_monotonic_ms) / 1000);
  add_number("max_hlc", NodeMaxHlc(node));
  add_number("clock_ceiling", node.ceiling.durable());
  // FLUSHALL's marker (docs/replication.md, "Flush"): its HLC, 0 when never flushed.
  add_number("flush_hlc", node.flush_mark.Get().hlc);
  const int64_t now = node.clock.MonotonicMs();
  const bool warm = now >= node.warmup_until_monotonic_ms;
  add_number("ready", NodeReady(node) ? 1 : 0);
  add_number("warmup_remaining_ms",
             warm ? 0 : static_cast<uint64_t>(node.warmup_until_monotonic_ms - now));
  add("sync_state", SyncStateName(node.sync_state.load(std::memory_order_acquire)));
#define SHOAL_INFO_SYNC(type, field, metric, help) \
  add_number("sync_" #field, node.sync.field.Value());
  SHOAL_NODE_SYNC_METRICS(SHOAL_INFO_SYNC)
#undef SHOAL_INFO_SYNC

  // Every shard's cells, summed by the registry (node_metrics.h).
  const metrics::Registry& m = node.metrics;
  auto total = [&](const char* metric) { return static_cast<uint64_t>(m.Total(metric)); };
  add_number("keys", total("shoal_node_keys"));
  add_number("tombstones", total("shoal_node_tombstones"));
  add_number("memory_used_bytes", total("shoal_node_memory_used_bytes"));
  add_number("memory_limit_bytes", total("shoal_node_memory_limit_bytes"));
  add_number("evictions", total("shoal_node_evictions_total"));
  add_number("expirations", total("shoal_node_expirations_total"));
  add_number("tombstones_purged", total("shoal_node_tombstones_purged_total"));
  add_number("tombstones_evicted", total("shoal_node_tombstones_evicted_total"));
  add_number("stale_writes", total("shoal_node_stale_writes_total"));
  add_number("flushed_keys", total("shoal_node_flushed_total"));  // entries removed by flushes
#define SHOAL_INFO_ANTI_ENTROPY(type, field, metric, help) \
  add_number("antientropy_" #field, total(metric));
  SHOAL_NODE_ANTI_ENTROPY_METRICS(SHOAL_INFO_ANTI_ENTROPY)
#undef SHOAL_INFO_ANTI_ENTROPY
  add_number("memory_outside_store_bytes", total("shoal_node_buffer_bytes"));

  // Hinted handoff (node/hints/): zeros for a standalone node, which holds no hints.
  hints::SpoolStats hints;
  if (node.hints != nullptr) hints = node.hints->spool().Stats();
  add_number("hints_pending", hints.pending);
  add_number("hints_pending_bytes", hints.pending_bytes);
  add_number("hints_oldest_age_ms", static_cast<uint64_t>(hints.oldest_age_ms));
#define SHOAL_INFO_HINTS(type, field, metric, help) add_number("hints_" #field, total(metric));
  SHOAL_HINT_SPOOL_METRICS(SHOAL_INFO_HINTS)
#undef SHOAL_INFO_HINTS

#define SHOAL_INFO_SERVER(type, field, metric, help) add_number(#field, total(metric));
  SHOAL_NODE_SERVER_METRICS(SHOAL_INFO_SERVER)
#undef SHOAL_INFO_SERVER

  auto resp = wire::CreateInfoResponse(b, b.CreateVector(entries));
  return builder.Finish(request_id, wire::Message::InfoResponse, resp.Union());
}

}  // namespace shoal::node
