#pragma once

// RestartSync: a node with membership (--nodes) starts empty (the store is memory only), so before
// it answers reads it pulls, from every peer, the states of the keys they share that are newer
// than its own (node/sync/peer_pull.h, Merkle-guided). Meanwhile Get and Touch from proxies and
// tools answer NotReady (requests from other nodes are served: two nodes syncing at once must not
// wait on each other) and Puts are applied (conditional ones answer NotReady: NotReadyRefuses). A
// peer whose address refuses connections is not running: its memory-only store holds nothing, so it
// is skipped (counted in sync_peers_down). A peer that is reachable but does not answer (paused,
// partitioned) or fails is retried every half second until --sync-timeout-ms has passed since the
// start; the node then serves anyway (sync_state "partial", logged), as it would after its warm-up.
// shoalctl info shows sync_state, sync_keys, sync_bytes, sync_peers_done / sync_peers.
//
// Threads: one thread of its own (NodeClient calls block). Start/RequestStop/Join from main.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "common/config/options.h"
#include "node/server/node_context.h"

namespace shoal::node {

class RestartSync {
 public:
  // `node.members` must be set: the peers are its members when this is constructed (with --seeds,
  // the member table once gossip settled; a member that restarts meanwhile syncs itself).
  // `self` is where this node listens (a wildcard host is reached on
  // 127.0.0.1). Marks the node syncing at once: construct it before the shards serve.
  RestartSync(NodeContext& node, HostPort self, int64_t timeout_ms);
  ~RestartSync();
  RestartSync(const RestartSync&) = delete;
  RestartSync& operator=(const RestartSync&) = delete;

  // `port`: the port this node actually listens on (the kernel's pick for port 0).
  void Start(uint16_t port);
  // Asks the thread to stop (the node is shutting down); Join() waits for it.
  void RequestStop();
  void Join();

 private:
  void Run();
  // Pulls from member `peer`; false when it must be tried again.
  bool SyncWith(const RingMember& peer);
  // Waits up to `ms` or until RequestStop.
  void Sleep(int64_t ms);

  NodeContext& node_;
  const RingSnapshotPtr members_;
  HostPort self_;
  const int64_t timeout_ms_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace shoal::node
