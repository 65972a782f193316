#pragma once

// NodeContext: what every shard thread of a node shares. Built by NodeServer before any thread
// starts and read-only afterwards, except the clock ceiling (thread-safe, see clock_ceiling.h)
// and the workers' own counters (see ShardWorker). No shared clock is written on the request
// path: each shard's store tracks its own highest version, and the node's max is the max over
// the shards (NodeMaxHlc), taken only when asked (Hello, Info, persistence).

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/clock/clock.h"
#include "common/metrics/registry.h"
#include "node/server/clock_ceiling.h"
#include "node/server/flush_mark.h"
#include "node/server/member_ring.h"
#include "node/server/node_config.h"

namespace shoal::node {

class ShardWorker;
class AntiEntropy;
class GossipService;
class Rebalancer;
namespace hints {
class HintService;
}

// The start-up sync's progress (node/sync/restart_sync.h).
enum class SyncState : int { kOff = 0, kSyncing = 1, kDone = 2, kPartial = 3 };

inline const char* SyncStateName(int state) {
  switch (static_cast<SyncState>(state)) {
    case SyncState::kOff:
      return "off";  // a standalone node (no --nodes), or --sync-timeout-ms 0
    case SyncState::kSyncing:
      return "syncing";
    case SyncState::kDone:
      return "done";
    case SyncState::kPartial:
      return "partial";  // gave up on some peers after --sync-timeout-ms
  }
  return "unknown";
}

// X(type, field, prometheus name, help); Info reports each as antientropy_<field>.
#define SHOAL_NODE_ANTI_ENTROPY_METRICS(X)                                          \
  X(Counter, rounds, "shoal_node_antientropy_rounds_total",                         \
    "Anti-entropy rounds run (periodic and on demand).")                            \
  X(Counter, repairs, "shoal_node_antientropy_repairs_total",                       \
    "On-demand rounds (Repair requests), part of the rounds.")                      \
  X(Counter, keys_repaired, "shoal_node_antientropy_keys_repaired_total",           \
    "Key states pushed to a peer (or, on demand, pulled from one) and applied.")    \
  X(Counter, bytes_repaired, "shoal_node_antientropy_repaired_bytes_total",         \
    "Key and value bytes of the repaired states.")                                  \
  X(Counter, keys_skipped_floor, "shoal_node_antientropy_keys_skipped_floor_total", \
    "Keys not offered: the peer evicted or purged them.")                           \
  X(Counter, summary_nodes, "shoal_node_antientropy_digest_nodes_total",            \
    "Digest tree nodes fetched from peers.")                                        \
  X(Counter, digest_requests, "shoal_node_antientropy_digest_requests_total",       \
    "DigestRequests sent to peers.")                                                \
  X(Counter, digest_bytes, "shoal_node_antientropy_digest_bytes_total",             \
    "Bytes of digest frames, both ways.")                                           \
  X(Counter, slices_exchanged, "shoal_node_antientropy_slices_exchanged_total",     \
    "Slices whose key versions were compared.")                                     \
  X(Counter, errors, "shoal_node_antientropy_errors_total",                         \
    "Failed rounds with a peer and refused pushes.")

// The start-up sync's progress (node/sync/restart_sync.h): X(type, field, prometheus name, help);
// Info reports each as sync_<field>.
#define SHOAL_NODE_SYNC_METRICS(X)                                                \
  X(Counter, keys, "shoal_node_sync_keys_total",                                  \
    "Key states pulled from peers and applied by the start-up sync.")             \
  X(Counter, bytes, "shoal_node_sync_bytes_total",                                \
    "Key and value bytes pulled by the start-up sync.")                           \
  X(Gauge, peers, "shoal_node_sync_peers", "Peers the start-up sync pulls from.") \
  X(Gauge, peers_done, "shoal_node_sync_peers_done",                              \
    "Peers the start-up sync pulled from completely (or found not running).")     \
  X(Gauge, peers_down, "shoal_node_sync_peers_down",                              \
    "Of the peers done, those found not running (nothing to pull from them).")

struct NodeContext {
  NodeContext(const NodeConfig& config, const Clock& clock)
      : config(config), clock(clock), start_monotonic_ms(clock.MonotonicMs()) {}

  const NodeConfig& config;
  const Clock& clock;
  // The cluster's members (member_ring.h): config.ring at first, replaced as the gossiped member
  // table changes (--seeds); nullptr for a standalone node. Shared: the gossip thread, which
  // updates it, may outlive the context.
  const std::shared_ptr<MemberRing> members =
      config.ring == nullptr
          ? nullptr
          : std::make_shared<MemberRing>(config.id, static_cast<int>(config.tokens_per_node),
                                         config.ring);
  std::vector<ShardWorker*> workers;  // index = shard; fixed before the threads start
  // Hinted handoff (node/hints/hint_service.h): set before the threads start when the node has
  // members (ring); nullptr for a standalone node, which refuses HintPuts.
  hints::HintService* hints = nullptr;
  // Membership by gossip (node/gossip/gossip_service.h): set before the threads start when the
  // node was started with --seeds; nullptr otherwise (MembersRequest then lists --nodes).
  GossipService* gossip = nullptr;
  // Its key hand-offs on ring changes and decommission (node/gossip/rebalancer.h): set with
  // `gossip`, before the threads start.
  Rebalancer* rebalancer = nullptr;
  // The anti-entropy driver (anti_entropy.h), for on-demand rounds (Repair): set before the
  // threads start when the node has members; nullptr for a standalone node, which refuses Repair.
  AntiEntropy* anti_entropy_driver = nullptr;
  const int64_t start_monotonic_ms;
  // Set by NodeServer::Restore() before the threads start; read-only afterwards.
  uint64_t restored_max_hlc = 0;          // the bound found in <data-dir>/hlc at start-up
  int64_t warmup_until_monotonic_ms = 0;  // before this, Get and Touch answer NotReady
  ClockCeiling ceiling;                   // versions above durable() wait for a persist
  // FLUSHALL's marker (flush_mark.h; adopted through AdoptFlushMark, node_flush.h): loaded by
  // NodeServer::Restore() before the threads start; thread-safe.
  FlushMark flush_mark{FlushFilePath(config.data_dir)};
  // The settings a configuration reload changes at run time (node_reload.h): written by the main
  // thread, read by any; read here, never from config, which the reload rewrites. The
  // anti-entropy rate limit, bytes per second (0: unlimited), and the periodic rounds' interval
  // (0: on demand only; AntiEntropy::IntervalChanged after a change). The hint replay rate lives
  // in the replayer (HintService::SetReplayRate). The key streams' rate (--stream-rate, bytes per
  // second, 0: unlimited) is read by the rebalancer before each chunk it moves.
  std::atomic<uint64_t> anti_entropy_rate{config.anti_entropy_rate};
  std::atomic<uint64_t> stream_rate{config.stream_rate_bytes};
  std::atomic<int64_t> anti_entropy_interval_ms{config.anti_entropy_interval_ms};
  // Cells written by the anti-entropy thread only (anti_entropy.h), read by any thread.
  struct AntiEntropyStats {
    SHOAL_NODE_ANTI_ENTROPY_METRICS(SHOAL_METRIC_FIELD)
  } anti_entropy;
  // The node's metrics (common/metrics/): the shards', the store's, the anti-entropy thread's and
  // the hint spool's, attached by NodeServer; read by Info, the admin endpoint and tests.
  metrics::Registry metrics;
  // Written by RestartSync's thread, read by any (Get/Touch answer NotReady while syncing).
  std::atomic<int> sync_state{static_cast<int>(SyncState::kOff)};
  // Cells written by RestartSync (its constructor, then its thread), read by any thread.
  struct SyncStats {
    SHOAL_NODE_SYNC_METRICS(SHOAL_METRIC_FIELD)
  } sync;
  bool Syncing() const {
    return sync_state.load(std::memory_order_acquire) == static_cast<int>(SyncState::kSyncing);
  }
};

}  // namespace shoal::node
