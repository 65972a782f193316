#include "node/server/anti_entropy_handlers.h"

#include <algorithm>
#include <bitset>
#include <string_view>

#include "common/hash/key_hash.h"
#include "common/typed/typed_value.h"
#include "common/wire/version_wire.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

namespace {

// Bytes a KeyVersion takes in a response besides its key (table, vtable share, two versions,
// vector slot, padding), rounded up.
constexpr uint64_t kKeyVersionOverhead = 96;

}  // namespace

const char* ValidateAntiEntropyRequest(const NodeContext& node, const wire::Envelope& envelope,
                                       std::string_view* peer, wire::ErrorCode* code) {
  const flatbuffers::String* peer_id = nullptr;
  if (envelope.message_type() == wire::Message::DigestRequest) {
    peer_id = envelope.message_as_DigestRequest()->peer();
  } else if (envelope.message_type() == wire::Message::KeyVersionsRequest) {
    peer_id = envelope.message_as_KeyVersionsRequest()->peer();
  } else {
    *code = wire::ErrorCode::Internal;
    return "not an anti-entropy request (node bug)";
  }
  if (node.members == nullptr) {
    *code = wire::ErrorCode::Unsupported;
    return "anti-entropy needs cluster membership: this node was started without --nodes or "
           "--seeds";
  }
  *code = wire::ErrorCode::BadRequest;
  if (peer_id == nullptr) return "anti-entropy request has no peer";
  const RingSnapshotPtr members = node.members->Current();
  const int index = members->ring->IndexOf(peer_id->string_view());
  if (index < 0) {
    // With --seeds, a member this node has not heard of yet (or saw REMOVED): the asker retries.
    return "anti-entropy request from a peer that is not a member of this node's cluster (--nodes, "
           "or the member table of --seeds)";
  }
  if (index == members->self) return "anti-entropy request names this node itself as the peer";
  const uint64_t ring = envelope.message_type() == wire::Message::DigestRequest
                            ? envelope.message_as_DigestRequest()->ring()
                            : envelope.message_as_KeyVersionsRequest()->ring();
  if (ring != 0 && !DigestsAt(node, ring)) {
    *code = wire::ErrorCode::WrongRing;
    return "this node's member ring is not the one asked about (its member table differs, or its "
           "shards are still rebuilding their digests): retry";
  }
  if (envelope.message_type() == wire::Message::DigestRequest) {
    const wire::DigestRequest* r = envelope.message_as_DigestRequest();
    if (r->level() >= kSummaryLevels) return "digest level out of range (0..3)";
    if (r->count() == 0) return "digest request for no node";
    if (r->first() >= SummaryLevelSize(r->level())) return "digest first node out of range";
  } else {
    const wire::KeyVersionsRequest* r = envelope.message_as_KeyVersionsRequest();
    if (r->slices() == nullptr || r->slices()->size() == 0) return "key versions for no slice";
    if (r->slices()->size() > kMaxKeyVersionsSlices) return "key versions for too many slices";
    for (uint32_t s : *r->slices()) {
      if (s >= kSlices) return "slice out of range (0..4095)";
    }
  }
  *peer = peer_id->string_view();
  return nullptr;
}

bool DigestsAt(const NodeContext& node, uint64_t ring) {
  if (node.members == nullptr) return false;
  const RingSnapshotPtr members = node.members->Current();
  if (RingFingerprint(*members->ring, static_cast<int>(node.config.replicas)) != ring) return false;
  for (const ShardWorker* w : node.workers) {
    const std::shared_ptr<const SliceDigests> d = w->digests();
    if (d == nullptr || d->fingerprint() != ring) return false;
  }
  return true;
}

StatusOr<MerkleSummary> NodeSummaryAt(const NodeContext& node, std::string_view peer,
                                      uint64_t ring) {
  if (!DigestsAt(node, ring)) {
    return Status::FailedPrecondition(
        "this node's member ring is not the one streamed for (or its shards are still rebuilding "
        "their digests)");
  }
  MerkleSummary summary = NodeSummary(node, peer);
  // A shard that rebuilt meanwhile mixed another ring's digests in: the caller retries.
  if (!DigestsAt(node, ring)) return Status::FailedPrecondition("this node's member ring changed");
  return summary;
}

MerkleSummary NodeSummary(const NodeContext& node, std::string_view peer) {
  std::vector<uint64_t> leaves(kSlices, 0);
  for (const ShardWorker* w : node.workers) {
    const std::shared_ptr<const SliceDigests> d = w->digests();
    if (d == nullptr) continue;
    // Each shard's digests follow the ring they were built for (a shard rebuilding them after a
    // membership change may briefly hold the previous one's): the peer's index in that ring.
    const int index = d->ring().IndexOf(peer);
    if (index < 0 || index == d->self()) continue;
    for (uint32_t s = 0; s < kSlices; ++s) leaves[s] ^= d->Get(index, s);
  }
  return MerkleSummary(std::move(leaves));
}

std::span<const uint8_t> BuildDigestResponse(const NodeContext& node, uint64_t request_id,
                                             std::string_view peer,
                                             const wire::DigestRequest& request,
                                             FrameBuilder& builder) {
  const MerkleSummary summary = NodeSummary(node, peer);
  const std::vector<uint64_t>& level = summary.level(request.level());
  const uint32_t first = request.first();
  const uint32_t end =
      static_cast<uint32_t>(std::min<uint64_t>(uint64_t{first} + request.count(), level.size()));
  auto& b = builder.Start();
  auto hashes = b.CreateVector(level.data() + first, end - first);
  const wire::Version mark = wire::ToWire(node.flush_mark.Get());
  auto resp = wire::CreateDigestResponse(b, request.level(), first, hashes, &mark);
  return builder.Finish(request_id, wire::Message::DigestResponse, resp.Union());
}

std::span<const uint8_t> BuildKeyVersionsPart(const ShardStore& store, const SliceDigests& digests,
                                              const wire::KeyVersionsRequest& request,
                                              uint64_t request_id, FrameBuilder& builder) {
  if (request.ring() != 0 && request.ring() != digests.fingerprint()) {
    // This shard rebuilt its digests for another ring since the request was validated.
    return BuildErrorFrame(builder, request_id, wire::ErrorCode::WrongRing,
                           "this node's member ring changed during the request: retry");
  }
  const int peer = digests.ring().IndexOf(request.peer()->string_view());  // -1: shares none
  std::bitset<kSlices> wanted;
  for (uint32_t s : *request.slices()) wanted.set(s);
  auto& b = builder.Start();
  std::vector<flatbuffers::Offset<wire::KeyVersion>> entries;
  uint64_t cursor = 0;
  do {
    cursor = store.Scan(cursor, 4096, [&](const EntryView& e) {
      if (!wanted.test(SliceOf(e.key_hash)) || !digests.Shared(e.key_hash, peer)) return;
      const wire::Version version = wire::ToWire(e.version);
      const wire::Version expiry_version = wire::ToWire(e.expiry_version);
      const uint64_t body_digest = e.tombstone ? 0 : typed::BodyDigest(e.value_type, e.value);
      entries.push_back(wire::CreateKeyVersion(
          b, Bytes(b, e.key), &version, &expiry_version, e.tombstone,
          static_cast<uint64_t>(e.expire_at_ms),
          e.tombstone ? wire::ValueType::String : static_cast<wire::ValueType>(e.value_type),
          body_digest));
    });
  } while (cursor != 0);
  auto resp = wire::CreateKeyVersionsResponse(b, b.CreateVector(entries));
  return builder.Finish(request_id, wire::Message::KeyVersionsResponse, resp.Union());
}

std::span<const uint8_t> MergeKeyVersionsParts(const std::vector<std::vector<uint8_t>>& parts,
                                               uint64_t request_id, uint64_t max_bytes,
                                               FrameBuilder& builder) {
  struct Item {
    uint32_t slice;
    std::string_view key;
    const wire::KeyVersion* entry;
  };
  std::vector<Item> items;
  for (const std::vector<uint8_t>& part : parts) {
    // Built by this node's own threads (BuildKeyVersionsPart): trusted.
    const wire::Envelope* envelope = wire::GetSizePrefixedEnvelope(part.data());
    if (const wire::Error* e = envelope->message_as_Error()) {  // a shard refused: so does all
      return BuildErrorFrame(builder, request_id, e->code(),
                             e->message() != nullptr ? e->message()->string_view() : "");
    }
    const wire::KeyVersionsResponse* r = envelope->message_as_KeyVersionsResponse();
    if (r == nullptr || r->entries() == nullptr) continue;
    for (const wire::KeyVersion* e : *r->entries()) {
      const std::string_view key = AsView(e->key());
      items.push_back({SliceOf(KeyHash(key)), key, e});
    }
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.slice != b.slice ? a.slice < b.slice : a.key < b.key;
  });
  // A scan may show an entry twice (ShardStore::Scan): keep one.
  items.erase(std::unique(items.begin(), items.end(),
                          [](const Item& a, const Item& b) { return a.key == b.key; }),
              items.end());
  uint64_t bytes = 64;
  for (const Item& i : items) bytes += i.key.size() + kKeyVersionOverhead;
  if (items.size() + 2 > kMaxFrameTables) {
    // Each entry is a table: more would fail the asker's verification (a corrupt frame).
    const std::string message = "the " + std::to_string(items.size()) +
                                " keys of these slices are more than one response may list (" +
                                std::to_string(kMaxFrameTables - 2) + "): ask for fewer slices";
    return BuildErrorFrame(builder, request_id, wire::ErrorCode::TooLarge, message);
  }
  if (bytes > max_bytes) {
    const std::string message = "the " + std::to_string(items.size()) +
                                " keys of these slices take about " + std::to_string(bytes) +
                                " bytes, more than the frame limit (" + std::to_string(max_bytes) +
                                "): ask for fewer slices";
    return BuildErrorFrame(builder, request_id, wire::ErrorCode::TooLarge, message);
  }
  auto& b = builder.Start();
  std::vector<flatbuffers::Offset<wire::KeyVersion>> entries;
  entries.reserve(items.size());
  for (const Item& i : items) {
    const wire::KeyVersion* e = i.entry;
    entries.push_back(wire::CreateKeyVersion(b, Bytes(b, i.key), e->version(), e->expiry_version(),
                                             e->tombstone(), e->expire_at_ms(), e->value_type(),
                                             e->body_digest()));
  }
  auto resp = wire::CreateKeyVersionsResponse(b, b.CreateVector(entries));
  return builder.Finish(request_id, wire::Message::KeyVersionsResponse, resp.Union());
}

}  // namespace shoal::node
