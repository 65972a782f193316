#include "node/server/node_info.h"

#include <algorithm>
#include <string>
#include <vector>

#include "node/hints/hint_service.h"
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
  const int64_t now = node.clock.MonotonicMs();
  const bool warm = now >= node.warmup_until_monotonic_ms;
  add_number("ready", warm && !node.Syncing() ? 1 : 0);
  add_number("warmup_remaining_ms",
             warm ? 0 : static_cast<uint64_t>(node.warmup_until_monotonic_ms - now));
  add("sync_state", SyncStateName(node.sync_state.load(std::memory_order_acquire)));
  add_number("sync_keys", node.sync_keys.load(std::memory_order_relaxed));
  add_number("sync_bytes", node.sync_bytes.load(std::memory_order_relaxed));
  add_number("sync_peers", node.sync_peers.load(std::memory_order_relaxed));
  add_number("sync_peers_done", node.sync_peers_done.load(std::memory_order_relaxed));
  add_number("sync_peers_down", node.sync_peers_down.load(std::memory_order_relaxed));

  uint64_t keys = 0, tombstones = 0, used = 0, limit = 0, evictions = 0, expirations = 0,
           purged = 0, stale = 0, tomb_evicted = 0;
  for (const ShardWorker* w : node.workers) {
    const ShardStats& s = w->store().stats();
    keys += s.keys.load(std::memory_order_relaxed);
    tombstones += s.tombstones.load(std::memory_order_relaxed);
    used += s.memory_used.load(std::memory_order_relaxed);
    limit += w->store().memory_limit();
    evictions += s.evictions.load(std::memory_order_relaxed);
    expirations += s.expirations.load(std::memory_order_relaxed);
    purged += s.tombstones_purged.load(std::memory_order_relaxed);
    tomb_evicted += s.tombstones_evicted.load(std::memory_order_relaxed);
    stale += s.stale_writes.load(std::memory_order_relaxed);
  }
  add_number("keys", keys);
  add_number("tombstones", tombstones);
  add_number("memory_used_bytes", used);
  add_number("memory_limit_bytes", limit);
  add_number("evictions", evictions);
  add_number("expirations", expirations);
  add_number("tombstones_purged", purged);
  add_number("tombstones_evicted", tomb_evicted);
  add_number("stale_writes", stale);
  const NodeContext::AntiEntropyStats& ae = node.anti_entropy;
  add_number("antientropy_rounds", ae.rounds.load(std::memory_order_relaxed));
  add_number("antientropy_repairs", ae.repairs.load(std::memory_order_relaxed));
  add_number("antientropy_keys_repaired", ae.keys_repaired.load(std::memory_order_relaxed));
  add_number("antientropy_bytes_repaired", ae.bytes_repaired.load(std::memory_order_relaxed));
  add_number("antientropy_keys_skipped_floor",
             ae.keys_skipped_floor.load(std::memory_order_relaxed));
  add_number("antientropy_summary_nodes", ae.summary_nodes.load(std::memory_order_relaxed));
  add_number("antientropy_digest_requests", ae.digest_requests.load(std::memory_order_relaxed));
  add_number("antientropy_digest_bytes", ae.digest_bytes.load(std::memory_order_relaxed));
  add_number("antientropy_slices_exchanged", ae.slices_exchanged.load(std::memory_order_relaxed));
  add_number("antientropy_errors", ae.errors.load(std::memory_order_relaxed));
  uint64_t outside = 0;
  for (const ShardWorker* w : node.workers) outside += w->stats().buffer_bytes.Get();
  add_number("memory_outside_store_bytes", outside);

  // Hinted handoff (node/hints/): zeros for a standalone node, which holds no hints.
  hints::SpoolStats hints;
  if (node.hints != nullptr) hints = node.hints->spool().Stats();
  add_number("hints_pending", hints.pending);
  add_number("hints_pending_bytes", hints.pending_bytes);
  add_number("hints_oldest_age_ms", static_cast<uint64_t>(hints.oldest_age_ms));
  add_number("hints_stored", hints.stored);
  add_number("hints_replayed", hints.replayed);
  add_number("hints_expired", hints.expired);
  add_number("hints_refused", hints.refused);
  add_number("hints_rejected", hints.rejected);

#define SHOAL_ADD_STAT(name, help)                                            \
  {                                                                           \
    uint64_t total = 0;                                                       \
    for (const ShardWorker* w : node.workers) total += w->stats().name.Get(); \
    add_number(#name, total);                                                 \
  }
  SHOAL_NODE_SERVER_STATS(SHOAL_ADD_STAT)
#undef SHOAL_ADD_STAT

  auto resp = wire::CreateInfoResponse(b, b.CreateVector(entries));
  return builder.Finish(request_id, wire::Message::InfoResponse, resp.Union());
}

}  // namespace shoal::node
