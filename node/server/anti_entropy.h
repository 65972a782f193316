#pragma once

// AntiEntropy: the node's periodic repair (docs/architecture.md, "Anti-entropy"). A thread of its
// own (never a shard loop), started by NodeServer when the node has cluster membership (--nodes).
// Every --anti-entropy-interval-ms (never when it is 0), for each other member (peer) of the
// node's MemberRing as it is when the round starts (member_ring.h: with --seeds, it follows the
// gossiped member table):
//  1. compares the Merkle summary of the pair (self, peer) -- built locally from the shards'
//     digests -- with the peer's (DigestRequest), root first, descending only into differing
//     nodes;
//  2. skips the differing slices whose two digests are what they were at the last exchange that
//     completed (a settled difference: e.g. keys the peer evicted);
//  3. fetches KeyVersions of the other slices, in batches, from both sides (the local node over
//     a connection to itself, so that the shards are read on their own threads); a batch's size
//     adapts to list about 20,000 keys (halved when an answer would pass the frame limit);
//  4. pushes every state it holds newer than the peer's (values and tombstones) as a Put carrying
//     version, expiry_version and expire_at_ms, the value read with a Get from the local node.
//     Before offering a key the peer does not hold, it asks the peer for it: a peer whose
//     evicted-version floor covers the pair would refuse it (it evicted or purged it), so it is
//     skipped and counted (keys_skipped_floor) instead of being sent again every round.
// Only newer states are pushed: the peer, running the same loop, pushes what it holds newer.
// Pushed bytes are limited to --anti-entropy-rate per second.
//
// On demand (RequestRepair: `shoalctl repair`, wire Repair), whatever the interval, even 0: one
// round in both directions: with each peer, the push above and then a pull of every state the peer
// holds newer than this node (node/sync/peer_pull.h, PullFromPeer; every state, settled slices
// included), so that after the round the node holds the newest state each of its peers had, and
// they hold its own. Pulled bytes count toward the same rate. A request arriving while a round
// runs (periodic or on demand) waits for that round to end; the requests that queued meanwhile
// are then served together by one new round (repair.h, RepairRequests). The periodic interval
// restarts after an on-demand round.
//
// Thread rules: Start/Stop from the controlling thread (main, tests); RequestRepair from any
// thread (a shard loop: it only takes a short lock); the rest runs on the anti-entropy thread.
// Counters are in NodeContext::anti_entropy (any thread).

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/client/node_client.h"
#include "common/status/status.h"
#include "node/server/node_context.h"
#include "node/server/repair.h"
#include "node/store/slice_digests.h"

namespace shoal::node {

class AntiEntropy {
 public:
  // `node` must have a ring and outlive this object.
  explicit AntiEntropy(NodeContext& node);
  ~AntiEntropy();  // stops
  AntiEntropy(const AntiEntropy&) = delete;
  AntiEntropy& operator=(const AntiEntropy&) = delete;

  // Starts the thread: a round every node.anti_entropy_interval_ms (none when 0; a reload may
  // change it, see IntervalChanged), and one for each batch of repair requests.
  void Start();
  // Ends the round in progress at its next step and joins the thread; then answers every repair
  // request not yet answered (ok=false: shutting down) on the caller's thread. Idempotent.
  void Stop();
  // Asks for one on-demand round; `done` gets its result on the anti-entropy thread (see above).
  // False, and `done` never called, once Stop() has begun. Any thread; never blocks beyond a
  // short lock.
  bool RequestRepair(RepairDone done);
  // Any thread, after node.anti_entropy_interval_ms changed (a configuration reload): the wait
  // in progress restarts with the new interval (from now; 0: no more periodic rounds).
  void IntervalChanged();

 private:
  struct Peer {
    std::string id;
    std::string address;
    std::unique_ptr<client::NodeClient> conn;
    // Per slice: the (local, peer) digests at the last completed exchange of the slice.
    std::vector<uint64_t> settled_local, settled_peer;
    std::vector<bool> settled;
    size_t batch_slices = 0;  // slices per KeyVersions exchange (adapted, see the .cc)
  };

  void Run();
  // Makes peers_ the members of the node's MemberRing now (but this node), when it changed since
  // the last round: a peer that stays keeps its connection (unless its address changed); the
  // settled slices are forgotten (the digests they remember were for the previous ring).
  void FollowMembers();
  // One round with every peer; `pull` (on demand) also takes what each peer holds newer.
  RepairResult RunRound(bool pull);
  Status SyncPeer(Peer& peer);
  // The pull half of an on-demand round with `peer` (its connections are open).
  Status PullPeer(Peer& peer);
  // Opens (and says Hello on) `conn` to `address` unless it is open.
  Status Ensure(std::unique_ptr<client::NodeClient>& conn, const std::string& address);
  bool stopping();
  // Waits until `bytes` pushed so far in this round are within the rate; false when stopping.
  bool Throttle();

  NodeContext& node_;
  std::vector<Peer> peers_;
  uint64_t peers_generation_ = 0;              // the MemberRing generation peers_ follows
  std::string self_address_;                   // where this node listens, as its ring says
  std::unique_ptr<client::NodeClient> local_;  // to this node itself
  uint64_t round_bytes_ = 0;
  int64_t round_start_ms_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;        // guarded by mu_
  bool rearm_ = false;       // guarded by mu_: IntervalChanged() was called
  RepairRequests requests_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace shoal::node
