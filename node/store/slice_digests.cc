#include "node/store/slice_digests.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "common/hash/key_hash.h"

namespace shoal::node {

namespace {

// splitmix64's finalizer: a bijection that spreads every input bit over the output.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t EntryDigest(std::string_view key, const Version& version, const Version& expiry_version,
                     uint64_t body_digest) {
  // The four version words chained through Mix seed the key's hash: any change of key, version
  // or expiry_version changes the contribution unpredictably (XOR sums need that).
  uint64_t seed =
      Mix(version.hlc ^ Mix(version.writer ^ Mix(expiry_version.hlc ^ Mix(expiry_version.writer))));
  if (body_digest != 0) seed = Mix(seed ^ body_digest);
  return Hash64(key, seed);
}

uint64_t RingFingerprint(const Ring& ring, int replicas) {
  // Members in id order: rings built from the same members in another order route alike.
  std::vector<const RingMember*> members;
  for (const RingMember& m : ring.members()) members.push_back(&m);
  std::sort(members.begin(), members.end(),
            [](const RingMember* a, const RingMember* b) { return a->id < b->id; });
  std::string text = std::to_string(ring.tokens_per_node()) + '/' + std::to_string(replicas);
  for (const RingMember* m : members) text += '\0' + m->id + '\0' + m->address + '\0' + m->zone;
  return Hash64(text);
}

SliceDigests::SliceDigests(RingPtr ring, int self, int replicas)
    : ring_(std::move(ring)),
      self_(self),
      replicas_(replicas),
      fingerprint_(RingFingerprint(*ring_, replicas)) {
  digests_.resize(ring_->members().size());
  for (size_t m = 0; m < digests_.size(); ++m) {
    digests_[m] = std::make_unique<std::atomic<uint64_t>[]>(kSlices);
    for (uint32_t s = 0; s < kSlices; ++s) digests_[m][s].store(0, std::memory_order_relaxed);
  }
}

void SliceDigests::OnChange(uint64_t key_hash, std::string_view key, const KeyState& before,
                            const KeyState& after, ChangeCause) {
  uint64_t delta = 0;
  if (before.present) {
    delta ^= EntryDigest(key, before.version, before.expiry_version, before.body_digest);
  }
  if (after.present) {
    delta ^= EntryDigest(key, after.version, after.expiry_version, after.body_digest);
  }
  if (delta != 0) Apply(key_hash, delta);  // 0: the pair did not change (an expiry)
}

void SliceDigests::Apply(uint64_t key_hash, uint64_t delta) {
  int owners[Ring::kMaxReplicas];
  const int n = ring_->PreferenceList(key_hash, replicas_, owners);
  bool mine = false;
  for (int i = 0; i < n; ++i) mine = mine || owners[i] == self_;
  if (!mine) return;  // held without being owned (e.g. a hint's target): shared with no one
  const uint32_t slice = SliceOf(key_hash);
  for (int i = 0; i < n; ++i) {
    if (owners[i] == self_) continue;
    std::atomic<uint64_t>& slot = digests_[static_cast<size_t>(owners[i])][slice];
    // Single writer: a plain read-modify-write, published with a relaxed store.
    slot.store(slot.load(std::memory_order_relaxed) ^ delta, std::memory_order_relaxed);
  }
}

bool SliceDigests::Shared(uint64_t key_hash, int peer) const {
  int owners[Ring::kMaxReplicas];
  const int n = ring_->PreferenceList(key_hash, replicas_, owners);
  bool has_self = false, has_peer = false;
  for (int i = 0; i < n; ++i) {
    has_self = has_self || owners[i] == self_;
    has_peer = has_peer || owners[i] == peer;
  }
  return has_self && has_peer && peer != self_;
}

// ---- Merkle summaries ------------------------------------------------------------------------

uint32_t SummaryLevelSize(int level) {
  if (level < 0 || level >= kSummaryLevels) return 0;
  return 1u << (4 * level);
}

MerkleSummary::MerkleSummary(std::vector<uint64_t> leaves) {
  leaves.resize(kSlices, 0);
  levels_[kSummaryLevels - 1] = std::move(leaves);
  for (int l = kSummaryLevels - 2; l >= 0; --l) {
    const std::vector<uint64_t>& children = levels_[l + 1];
    std::vector<uint64_t>& nodes = levels_[l];
    nodes.resize(SummaryLevelSize(l));
    for (size_t i = 0; i < nodes.size(); ++i) {
      char bytes[kSummaryFanout * sizeof(uint64_t)];
      std::memcpy(bytes, &children[i * kSummaryFanout], sizeof(bytes));
      nodes[i] = Hash64(std::string_view(bytes, sizeof(bytes)), static_cast<uint64_t>(l) + 1);
    }
  }
}

StatusOr<std::vector<uint32_t>> DifferingSlices(const MerkleSummary& local,
                                                const SummaryFetch& fetch,
                                                uint64_t* fetched_nodes) {
  uint64_t fetched = 0;
  // Nodes of the current level known to differ (ascending).
  std::vector<uint32_t> differing;
  {
    StatusOr<std::vector<uint64_t>> root = fetch(0, 0, 1);
    if (!root.ok()) return root.status();
    if (root->size() != 1) return Status::Internal("summary root: wrong number of nodes");
    fetched += 1;
    if ((*root)[0] != local.root()) differing.push_back(0);
  }
  for (int l = 1; l < kSummaryLevels && !differing.empty(); ++l) {
    std::vector<uint32_t> next;
    const std::vector<uint64_t>& mine = local.level(l);
    for (uint32_t parent : differing) {
      const uint32_t first = parent * kSummaryFanout;
      StatusOr<std::vector<uint64_t>> theirs = fetch(l, first, kSummaryFanout);
      if (!theirs.ok()) return theirs.status();
      if (theirs->size() != kSummaryFanout) {
        return Status::Internal("summary level " + std::to_string(l) +
                                ": wrong number of nodes in an answer");
      }
      fetched += kSummaryFanout;
      for (uint32_t i = 0; i < kSummaryFanout; ++i) {
        if ((*theirs)[i] != mine[first + i]) next.push_back(first + i);
      }
    }
    differing.swap(next);
  }
  if (fetched_nodes != nullptr) *fetched_nodes = fetched;
  return differing;
}

}  // namespace shoal::node
