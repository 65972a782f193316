#pragma once

// Pulling a peer's newer states into this node: the half of an anti-entropy exchange that a node
// restarted empty runs against every peer before it answers reads (docs/architecture.md, "Sync on
// restart"), and the way range streaming moves keys (node/gossip/rebalancer.h: a joining node
// pulls, a node whose ring changed pushes: PushToPeer, the same exchange the other way).
//
// For one peer, Merkle-guided: compare this node's summary of the keys it shares with the peer
// (NodeSummary, in process) with the peer's summary of the same pair (DigestRequest), descending
// only into differing subtrees (DifferingSlices); for the differing slices, in batches, list both
// sides' keys with their pairs (KeyVersionsRequest to the peer and, through a connection to this
// same node, to itself); every key whose pair on the peer is greater than this node's (or that
// this node lacks) is fetched from the peer (Get, value included) and written here with its full
// state (Put carrying version, expiry_version and expiry). Tombstones (deletes, and expired
// values, which are tombstones of their pair) are written as tombstones. Writes go through this
// node's own request path (version checks, clock ceiling, the evicted-version floor: a state the
// node evicted is refused as stale and skipped).
//
// Blocking, on the caller's thread (never a shard loop): NodeClient connections.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/client/node_client.h"
#include "common/clock/hlc.h"
#include "common/status/status.h"
#include "node/store/slice_digests.h"
#include "schemas/shoal_generated.h"

namespace shoal::node {

struct PullCounters {
  uint64_t summary_nodes = 0;     // Merkle nodes fetched from the peer
  uint64_t differing_slices = 0;  // slices whose digests differed
  uint64_t keys_compared = 0;     // keys listed by the peer in those slices
  uint64_t keys_pulled = 0;       // states written here (applied)
  uint64_t bytes_pulled = 0;      // key and value bytes of those
  uint64_t keys_stale = 0;        // fetched but refused here (this node held or evicted newer)
  uint64_t bytes_moved = 0;       // key and value bytes of every state written, applied or not
};

struct PullTarget {
  client::NodeClient* peer = nullptr;  // handshake done
  client::NodeClient* self = nullptr;  // a connection to this node, handshake done
  std::string self_id;
  std::string peer_id;
  int timeout_ms = 5000;  // per request
  // Slices per KeyVersionsRequest at first (halved when a response would be too large).
  uint32_t slices_per_batch = 256;
  // Keys fetched and written per round trip.
  uint32_t keys_per_batch = 128;
  // FLUSHALL's marker (docs/replication.md, "Flush"): this node's, sent with every DigestRequest;
  // `adopt_flush_mark` (optional) is called with the peer's from every DigestResponse.
  Version flush_mark;
  std::function<void(Version)> adopt_flush_mark;
  // 0: each side cuts its keys into pairs by its own current member ring. Else a RingFingerprint:
  // both sides must have their digests built for that ring, or they answer WrongRing and the
  // exchange stops (range streaming: a side whose member table lags would compare other pairs and
  // miss keys). The caller checks its own side for `local` (NodeSummaryAt).
  uint64_t ring = 0;
};

// One key's full state, as read from a node (Get with its value) and written to another (Put
// carrying version, expiry_version and expiry; a tombstone as a tombstone).
struct PulledState {
  std::string key;
  std::string value;
  Version version;
  Version expiry_version;
  uint64_t expire_at_ms = 0;
  bool tombstone = false;
  wire::ValueType value_type =
      wire::ValueType::String;  // a typed body (common/typed) travels whole
};

// Gets `keys` from `from` (pipelined), appending the states it still holds to *out.
Status FetchKeyStates(client::NodeClient& from, const std::vector<std::string>& keys,
                      int timeout_ms, std::vector<PulledState>* out);
// Writes `states` to `to` (pipelined) through its request path (version checks: an older state
// is refused as stale). Counts applied ones in keys_pulled / bytes_pulled, stale in keys_stale.
Status WriteKeyStates(client::NodeClient& to, const std::vector<PulledState>& states,
                      int timeout_ms, PullCounters* counters);

// Called after each batch with the counters so far; false stops the exchange (Unavailable).
using PullProgress = std::function<bool(const PullCounters&)>;

// Pulls from `target.peer` every state newer than this node's, for the keys both share.
// `local` is this node's summary of the pair (self, peer). `progress` (optional): see above.
// Stops at the first error (the counters say how far it got); pulling again is safe (every
// write is versioned), and cheap: the slices already pulled compare equal.
Status PullFromPeer(const PullTarget& target, const MerkleSummary& local, PullCounters* counters,
                    const PullProgress& progress = nullptr);

// The same exchange the other way: writes to `target.peer` every state this node holds newer
// than the peer's (or that the peer lacks), for the keys both share. The counters count the
// states written to the peer (keys_pulled: applied there).
Status PushToPeer(const PullTarget& target, const MerkleSummary& local, PullCounters* counters,
                  const PullProgress& progress = nullptr);

}  // namespace shoal::node
