#pragma once

// GossipService: a node's membership (docs/membership.md) when it is started with --seeds. Owns
// the node's MemberTable and a thread of its own (never a shard loop) that, every
// --gossip-interval-ms, raises the node's heartbeat and runs one push-pull exchange
// (common/membership/gossip_round.h) with each peer ChooseGossipTargets picks, over blocking
// NodeClient connections (Hello as a Node, with the cluster secret), kept open between rounds.
// Seed names are resolved again every few rounds (a DNS name with several addresses is several
// seeds).
//
// The other side of an exchange (a peer's GossipSyn and GossipAck2) and MembersRequest are served
// by the shard threads through OnSyn / OnAck2 / Listing, which take the table's lock briefly.
//
// Thread rules: Start/Stop/WaitSettled from the controlling thread (main); OnSyn, OnAck2, Listing,
// RingMembers and stats() from any thread.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/client/node_client.h"
#include "common/clock/clock.h"
#include "common/membership/gossip_round.h"
#include "common/membership/gossip_wire.h"
#include "common/membership/member_table.h"
#include "common/ring/ring.h"
#include "node/gossip/gossip_stats.h"

namespace shoal::node {

struct GossipOptions {
  std::string cluster;
  std::string secret;  // the cluster secret (empty: none)
  std::vector<HostPort> seeds;
  int64_t interval_ms = 1000;
  double phi_threshold = 8;
  // A member this node has seen DOWN for this long is marked REMOVED (gossiped); 0: never.
  int64_t dead_after_ms = 600'000;
};

class GossipService {
 public:
  // `self` is this node's record (address as peers reach it). `clock` must outlive the service.
  GossipService(MemberRecord self, GossipOptions options, const Clock& clock);
  ~GossipService();  // stops
  GossipService(const GossipService&) = delete;
  GossipService& operator=(const GossipService&) = delete;

  void Start();
  // Idempotent; the round in progress ends at its next exchange.
  void Stop();

  // Blocks until the member set looks settled: an exchange with a peer succeeded and the ring's
  // members have not changed for three intervals; or no seed but this node exists; or
  // `timeout_ms` passed. True unless it timed out.
  bool WaitSettled(int64_t timeout_ms);

  // Shard threads: the peer side of an exchange.
  GossipAckMessage OnSyn(const GossipSynMessage& syn);
  void OnAck2(const GossipAck2Message& ack2);
  MembersListing Listing();
  std::vector<RingMember> RingMembers();
  std::string self_id() const { return self_id_; }
  MemberState self_state();

  // An operator's removal (shoalctl remove): member `id` turns REMOVED here and is gossiped so,
  // counted in the calling thread's `counters`. InvalidArgument for this node itself, NotFound
  // for an unknown id.
  Status Remove(const std::string& id, GossipStats& counters);
  // This node's own lifecycle (decommission: LEAVING, then REMOVED), gossiped from the next round.
  Status SetSelfState(MemberState state);

  // The gossip thread's counters (gossip_stats.h); the shards hold their own.
  const GossipStats& stats() const { return stats_; }

  // After every round, the gossip thread calls `observer` with every member of the table not
  // REMOVED (JOINING ones included; MembersOf(listing, NotRemovedState)): main keeps the node's
  // MemberRing with it (node/server/member_ring.h). Any thread; replaces the previous observer.
  using MembersObserver = std::function<void(const std::vector<RingMember>&)>;
  void SetMembersObserver(MembersObserver observer);

 private:
  void Run();
  Status Exchange(const std::string& address);
  Status Ensure(const std::string& address, client::NodeClient** out);
  void ResolveSeedsNow();
  void NoteChanges(const MergeCounts& counts);
  // Marks REMOVED every member seen DOWN for --dead-after (mu_ held).
  void RemoveDead(int64_t now);

  const std::string self_id_;
  const GossipOptions options_;
  const Clock& clock_;
  std::mt19937_64 rng_;

  std::mutex mu_;  // guards table_, ring_changed_ms_, first_exchange_ok_, stop_
  std::condition_variable cv_;
  MemberTable table_;
  uint64_t last_ring_generation_ = 0;
  int64_t ring_changed_ms_ = 0;
  bool first_exchange_ok_ = false;
  bool stop_ = false;
  std::map<std::string, int64_t> down_since_ms_;  // members seen DOWN, since when (mu_)
  MembersObserver members_observer_;              // mu_

  bool alone_ = false;  // no seed but this node (set by Start, before the thread)
  // Gossip thread only (and Start, before it).
  std::vector<std::string> seed_addresses_;
  uint64_t rounds_since_resolve_ = 0;
  std::map<std::string, std::unique_ptr<client::NodeClient>> conns_;
  FrameBuilder builder_;
  std::thread thread_;
  GossipStats stats_;  // gossip thread only (read by any)
};

}  // namespace shoal::node
