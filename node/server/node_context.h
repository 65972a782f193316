#pragma once

// NodeContext: what every shard thread of a node shares. Built by NodeServer before any thread
// starts and read-only afterwards, except the clock ceiling (thread-safe, see clock_ceiling.h)
// and the workers' own counters (see ShardWorker). No shared clock is written on the request
// path: each shard's store tracks its own highest version, and the node's max is the max over
// the shards (NodeMaxHlc), taken only when asked (Hello, Info, persistence).

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/clock/clock.h"
#include "node/server/clock_ceiling.h"
#include "node/server/node_config.h"

namespace shoal::node {

class ShardWorker;
class AntiEntropy;
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
  // The anti-entropy driver (anti_entropy.h), for on-demand rounds (Repair): set before the
  // threads start when the node has members; nullptr for a standalone node, which refuses Repair.
  AntiEntropy* anti_entropy_driver = nullptr;
  const int64_t start_monotonic_ms;
  // Set by NodeServer::Restore() before the threads start; read-only afterwards.
  uint64_t restored_max_hlc = 0;          // the bound found in <data-dir>/hlc at start-up
  int64_t warmup_until_monotonic_ms = 0;  // before this, Get and Touch answer NotReady
  ClockCeiling ceiling;                   // versions above durable() wait for a persist
  // Written by the anti-entropy thread (anti_entropy.h), read by Info: any thread.
  struct AntiEntropyStats {
    std::atomic<uint64_t> rounds{0};
    std::atomic<uint64_t> repairs{0};             // on-demand rounds (Repair), of those rounds
    std::atomic<uint64_t> keys_repaired{0};       // states pushed to a peer (or, on demand,
                                                  // pulled from one) and applied
    std::atomic<uint64_t> bytes_repaired{0};      // their keys' and values' bytes
    std::atomic<uint64_t> keys_skipped_floor{0};  // not offered: the peer evicted or purged them
    std::atomic<uint64_t> summary_nodes{0};       // digest nodes fetched from peers
    std::atomic<uint64_t> digest_requests{0};     // DigestRequests sent to peers
    std::atomic<uint64_t> digest_bytes{0};        // their frames and the answers', both ways
    std::atomic<uint64_t> slices_exchanged{0};    // slices whose key versions were compared
    std::atomic<uint64_t> errors{0};              // failed rounds with a peer, refused pushes
  } anti_entropy;
  // Written by RestartSync's thread, read by any (Get/Touch answer NotReady while syncing).
  std::atomic<int> sync_state{static_cast<int>(SyncState::kOff)};
  std::atomic<uint64_t> sync_keys{0};        // states pulled and applied
  std::atomic<uint64_t> sync_bytes{0};       // their key and value bytes
  std::atomic<uint64_t> sync_peers{0};       // peers to pull from
  std::atomic<uint64_t> sync_peers_done{0};  // peers pulled from completely, or not running
  std::atomic<uint64_t> sync_peers_down{0};  // of those, peers found not running (nothing to pull)
  bool Syncing() const {
    return sync_state.load(std::memory_order_acquire) == static_cast<int>(SyncState::kSyncing);
  }
};

}  // namespace shoal::node
