#pragma once

// Anti-entropy digests (docs/architecture.md, "Anti-entropy digests").
//
// The 64-bit key-hash space (the ring's tag-aware KeyHash) is cut into kSlices fixed slices: the
// top kSliceBits bits of the hash. Two replicas legitimately hold different key sets inside one
// slice (ring ownership does not follow slice boundaries), so a node keeps one digest array PER
// PEER: digest(peer, slice) is the XOR, over the keys held in that slice whose preference list
// (Ring::PreferenceList(hash, replicas)) contains both this node and `peer`, of
// EntryDigest(key, version, expiry_version). Two replicas agree on a slice iff they hold the same
// keys at the same pairs there (up to 64-bit hash collisions). The tombstone flag is not hashed:
// a pair names one state (docs/replication.md), and an expired value is a tombstone of its own
// pair, so expiry never makes two replicas differ.
//
// What is held is what is hashed: an entry removed by eviction or by the purge of a tombstone
// past its grace no longer counts (see docs/architecture.md for how the exchange avoids sending
// such keys back in a loop).
//
// SliceDigests is a StoreObserver: one per ShardStore, updated on the store's owner thread in
// O(replicas) per change (one PreferenceList lookup, then one XOR per peer that shares the key).
// Other threads may read digests at any time (relaxed atomics): a read taken while the owner
// writes sees each slot either before or after a change, which anti-entropy tolerates (a
// difference found is re-checked key by key). The node-wide digest of a slice is the XOR of its
// shards' digests.
//
// The Merkle summary of a pair (self, peer) is built on request from the kSlices leaves: inner
// levels of fanout 16 (4096 -> 256 -> 16 -> 1), each node the Hash64 of its 16 children.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "common/clock/hlc.h"
#include "common/ring/ring.h"
#include "common/status/status.h"
#include "node/store/store_observer.h"

namespace shoal::node {

inline constexpr int kSliceBits = 12;
inline constexpr uint32_t kSlices = 1u << kSliceBits;  // 4096

// What a per-peer digest depends on besides the keys: the ring's members (id, address, zone, in
// ring order), its tokens per node and the preference-list length. Two nodes whose digests carry
// the same fingerprint (whatever the order of their members) cut their keys into the same pairs, so
// their summaries compare (range streaming asks for a fingerprint: DigestRequest.ring,
// docs/membership.md "Joining").
uint64_t RingFingerprint(const Ring& ring, int replicas);

// The slice of a key hash (the ring's KeyHash).
inline uint32_t SliceOf(uint64_t key_hash) {
  return static_cast<uint32_t>(key_hash >> (64 - kSliceBits));
}

// The contribution of one held entry to its slice's digest. Never depends on the tombstone flag
// or the expiry time (see above). `body_digest`: a live typed value's typed::BodyDigest (0 for
// strings, which then hash as before typed values): two replicas holding one pair with different
// bodies (a counter component one of them missed) differ. The one divergence expiry can cause: a
// typed value expired on one replica and not yet found expired on the other, until it is (both
// then list it as a tombstone of the same pair, so the exchange ships nothing).
uint64_t EntryDigest(std::string_view key, const Version& version, const Version& expiry_version,
                     uint64_t body_digest = 0);

class SliceDigests : public StoreObserver {
 public:
  // `self` is this node's index in ring->members(); `replicas` the preference-list length (N).
  SliceDigests(RingPtr ring, int self, int replicas);

  // Owner thread (the store's).
  void OnChange(uint64_t key_hash, std::string_view key, const KeyState& before,
                const KeyState& after, ChangeCause cause) override;

  // Any thread. The digest of `slice` for the pair (self, peer); 0 for peer == self.
  uint64_t Get(int peer, uint32_t slice) const {
    return digests_[static_cast<size_t>(peer)][slice].load(std::memory_order_relaxed);
  }
  // Whether a key of this hash is shared by self and `peer` (both are in its preference list).
  bool Shared(uint64_t key_hash, int peer) const;

  const Ring& ring() const { return *ring_; }
  // RingFingerprint(ring(), replicas()).
  uint64_t fingerprint() const { return fingerprint_; }
  int self() const { return self_; }
  int replicas() const { return replicas_; }

 private:
  void Apply(uint64_t key_hash, uint64_t delta);

  const RingPtr ring_;
  const int self_;
  const int replicas_;
  const uint64_t fingerprint_;
  // Index = member; each an array of kSlices digests (the self slot stays zero).
  std::vector<std::unique_ptr<std::atomic<uint64_t>[]>> digests_;
};

// ---- Merkle summaries ------------------------------------------------------------------------

inline constexpr int kSummaryFanout = 16;
inline constexpr int kSummaryLevels = 4;  // level 0: the root; level 3: the kSlices leaves

// Nodes in `level` (16^level); 0 for a level out of range.
uint32_t SummaryLevelSize(int level);

class MerkleSummary {
 public:
  // `leaves` must hold kSlices digests.
  explicit MerkleSummary(std::vector<uint64_t> leaves);

  const std::vector<uint64_t>& level(int l) const { return levels_[static_cast<size_t>(l)]; }
  uint64_t root() const { return levels_[0][0]; }

 private:
  std::vector<uint64_t> levels_[kSummaryLevels];
};

// Fetches nodes [first, first + count) of a level of the other side's summary.
using SummaryFetch =
    std::function<StatusOr<std::vector<uint64_t>>(int level, uint32_t first, uint32_t count)>;

// The slices where `local` and the other side differ, ascending: compares the roots, then
// descends level by level into the children of differing nodes only (one fetch per differing
// node's children). A fetch error, or an answer of the wrong length, is returned as an error.
// `fetched_nodes` (optional) counts the nodes fetched.
StatusOr<std::vector<uint32_t>> DifferingSlices(const MerkleSummary& local,
                                                const SummaryFetch& fetch,
                                                uint64_t* fetched_nodes = nullptr);

}  // namespace shoal::node
