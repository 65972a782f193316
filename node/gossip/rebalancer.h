#pragma once

// Rebalancer: moves keys when the ring a gossiping node sees changes (docs/membership.md,
// "Joining", "Losing, removing and adding nodes").
//
// Keys move Merkle-guided (docs/membership.md, "Streaming"): two nodes whose member rings are the
// same ring R (RingFingerprint; the node's MemberRing, whose per-peer digests the shards keep)
// compare the summaries of the keys they share under R and exchange only the keys of differing
// slices that one side lacks or holds older (node/sync/peer_pull.h, PullFromPeer / PushToPeer,
// every request naming R: a side whose digests are for another ring refuses, WrongRing, and the
// stream is tried again). The Merkle exchange covers the pairs of R; a key whose new owners share
// no pair with a node that holds it (a decommission, N or more members added at once) is copied
// whole instead, as is every key on the last attempt of a join or a hand-off.
//
// Joining (a new node, this one, started JOINING: main's StartGossip): it is out of every ring
// but its own, proxies copy it the writes of the ranges it gains. Unless the cluster holds no key
// yet, it waits --join-wait (for the proxies to see it JOINING), then pulls from each ring member
// not seen DOWN, Merkle-guided, the keys they share under the ring it will form (each key it
// gains is shared with the previous owners that stay; a newer state written meanwhile wins).
// When another member is JOINING too (its repair ring is not that ring), it pulls instead, from
// each member, every key it gains that the member owned (a Scan there, Get there, Put here).
// Done, it turns NORMAL (the proxies then read from it) and deletes the join marker file (main: a
// node restarted with the marker still there joins again; what it already holds compares equal).
// A member that fails is tried again up to kMaxAttempts times, then left to the others.
// Every gossip interval it compares the ring members the member table forms
// (GossipService::RingMembers: id, address, zone) with the last ones it handed off for; on a change
// it builds both rings and looks at every key this node holds (a Scan of its own store) whose
// preference list under the old ring had this node in it. For each owner the new ring adds: if
// this node still owns the key, it streams that owner the pair they share (Merkle-guided, once
// per owner); if it does not but another previous owner does, that one streams it; if no previous
// owner does, it copies the key's full state (Get here, Put there with its version pair: the
// version order makes a repeated or concurrent push harmless). So:
//  - a member REMOVED (--dead-after, `shoalctl remove`): the surviving owners copy its keys to
//    the owners replacing it, and every key has N live replicas again;
//  - a member added (a new node from --seeds, or a removed one back): the previous owners copy
//    it the keys it gains;
//  - Decommission(): this node turns LEAVING, copies every key it owns to the owner replacing it
//    (the ring without itself; whole, no Merkle pair exists), turns REMOVED, waits a few gossip
//    rounds for that to spread, and asks the process to stop (SIGTERM to itself).
// A hand-off that fails (a target unreachable) is tried again the next interval, up to
// kMaxAttempts times; a ring it did not finish handing off to is handed off from as well when the
// ring changes again (its owners took writes meanwhile: a member removed and back at once). A
// decommission also hands off the hints this node holds for others (its RocksDB spool) before it
// turns REMOVED: each to its target when the target is still a member and answers, else to the
// key's owners without this node; each one handed off is removed from the spool (the replayer may
// deliver some of them meanwhile: twice is harmless).
//
// Thread rules: one thread of its own (blocking NodeClient calls, never a shard loop).
// Start/Stop from main; Decommission and stats() from any thread (the cells are written by the
// rebalancer's thread only, read by any).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config/options.h"
#include "common/metrics/cells.h"
#include "common/ring/ring.h"
#include "common/status/status.h"
#include "node/gossip/gossip_service.h"
#include "node/gossip/stream_pacer.h"
#include "node/hints/hint_counters.h"
#include "node/server/node_context.h"

namespace shoal::node {

// The rebalancer's metrics (docs/operations.md, "Watch"): X(type, field, name, help).
#define SHOAL_REBALANCE_METRICS(X)                                                            \
  X(Counter, handoffs, "shoal_rebalance_handoffs_total",                                      \
    "Ring changes (and decommissions) this node handed off completely.")                      \
  X(Counter, handoff_failures, "shoal_rebalance_failures_total",                              \
    "Hand-off or join attempts that stopped at an error (retried).")                          \
  X(Counter, keys_scanned, "shoal_rebalance_keys_scanned_total",                              \
    "Keys a hand-off or a join examined (this node's store, the keys listed in differing "    \
    "slices, the members' scans).")                                                           \
  X(Counter, slices_compared, "shoal_rebalance_slices_compared_total",                        \
    "Slices whose Merkle digests differed in a stream, so that their keys were listed.")      \
  X(Counter, keys_pushed, "shoal_rebalance_keys_pushed_total",                                \
    "Keys this node copied to owners a ring change gave them (applied there).")               \
  X(Counter, keys_stale, "shoal_rebalance_keys_stale_total",                                  \
    "Keys this node pushed that their new owner held as new or newer already (refused).")     \
  X(Counter, keys_joined, "shoal_rebalance_keys_joined_total",                                \
    "Keys this node pulled while JOINING (applied here).")                                    \
  X(Counter, bytes_streamed, "shoal_rebalance_bytes_streamed_total",                          \
    "Key and value bytes this node pulled while joining or pushed on ring changes (paced by " \
    "--stream-rate).")                                                                        \
  X(Counter, hints_handed_off, "shoal_rebalance_hints_handed_off_total",                      \
    "Spooled hints a decommission delivered (to their target or the key's owners).")

struct RebalanceStats {
  SHOAL_REBALANCE_METRICS(SHOAL_METRIC_FIELD)
};

class Rebalancer {
 public:
  static constexpr int kMaxAttempts = 5;
  // How many quarter intervals a stream waits for this node's digests to follow its member ring,
  // and for a peer that answers WrongRing to catch up with it.
  static constexpr int kDigestWaitSteps = 20;

  // `initial`: the ring members the node started with (its NodeContext ring). `host`: where
  // this node listens (a wildcard host is reached on 127.0.0.1). `interval_ms`: how often to
  // look at the member table.
  // `join_marker`: the file to delete once a join ended (empty: none).
  Rebalancer(NodeContext& node, GossipService& gossip, std::string host,
             std::vector<RingMember> initial, int64_t interval_ms, std::string join_marker = "");
  ~Rebalancer();  // stops
  Rebalancer(const Rebalancer&) = delete;
  Rebalancer& operator=(const Rebalancer&) = delete;

  // `port`: the port this node listens on (known once the server started).
  void Start(uint16_t port);
  void Stop();

  // Starts decommissioning this node (see the top); FailedPrecondition when already under way.
  Status Decommission();

  const RebalanceStats& stats() const { return stats_; }
  // The hints a decommission delivered (replayed) or found expired (node/hints/hint_counters.h).
  const hints::SpoolCounters& hint_counters() const { return hint_counters_; }

 private:
  void Run();
  // This node's join (see the top); false when stopping first.
  bool RunJoin();
  // Whether this node's MemberRing has the members of `ring` and its shards' digests are built
  // for it (waiting a little for them); false when it has other members, or when stopping.
  bool WaitDigestsFor(const Ring& ring);
  // The Merkle-guided stream with `peer` of the keys they share under the ring of fingerprint
  // `ring`: pulls what `peer` holds newer (push false: a join) or pushes what this node holds
  // newer (push true: a hand-off), paced by --stream-rate. `self`: a connection to this node.
  Status Stream(const RingMember& peer, uint64_t ring, bool push, client::NodeClient& self);
  // Pulls from `peer` every key this node owns under `after` that `peer` owned under `before`
  // (no Merkle: the join's last attempt, or another member JOINING).
  Status PullGained(const Ring& before, const Ring& after, const RingMember& peer,
                    client::NodeClient& self);
  // Paces `bytes` just moved (--stream-rate, as NodeContext::stream_rate holds it now: a reload
  // applies within kRateCheckMs, ending a wait at the old rate); false when stopping.
  static constexpr int64_t kRateCheckMs = 200;
  bool Pace(uint64_t bytes);
  StatusOr<std::unique_ptr<client::NodeClient>> OpenSelf();
  // Moves to the owners `after` adds every key this node holds that it owned under `before`
  // (see the top); `merkle` false: copies every such key whole.
  Status HandOff(const Ring& before, const Ring& after, bool merkle);
  void RunDecommission();
  // Decommission: delivers every spooled hint (see the top); `after` is the ring without this
  // node.
  Status HandOffHints(const Ring& after);
  bool Sleep(int64_t ms);  // false once stopping
  bool Stopping();

  NodeContext& node_;
  GossipService& gossip_;
  HostPort self_;  // set by Start
  const int64_t interval_ms_;
  std::vector<RingMember> handed_;  // the ring members last handed off for (thread only)
  const std::string join_marker_;
  StreamPacer pacer_;  // thread only
  std::atomic<bool> decommission_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
  RebalanceStats stats_;
  hints::SpoolCounters hint_counters_;  // the rebalancer's thread only
};

}  // namespace shoal::node
