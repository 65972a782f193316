#pragma once

// The node's side of the anti-entropy exchange (schemas/shoal.fbs: DigestRequest,
// KeyVersionsRequest; docs/architecture.md "Anti-entropy digests").
//
// DigestRequest is answered by the connection's thread from every shard's SliceDigests (relaxed
// atomic reads, as Info reads counters): the node-wide leaf of a slice is the XOR of the shards'.
// KeyVersionsRequest needs each shard's table, so the connection's thread scatters it to every
// shard (ShardWorker's gathers): each answers a part (BuildKeyVersionsPart, one pass over its
// table for the whole batch of slices), and the receiving thread merges the parts into the
// response (MergeKeyVersionsParts).
//
// Frames returned are valid until `builder`'s next Start(). Any shard thread.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/wire/frame.h"
#include "node/server/node_context.h"
#include "node/store/shard_store.h"
#include "node/store/slice_digests.h"
#include "schemas/shoal_generated.h"

namespace shoal::node {

// Most slices one KeyVersionsRequest may name.
inline constexpr uint32_t kMaxKeyVersionsSlices = kSlices;

// For a DigestRequest or KeyVersionsRequest: returns nullptr and sets *peer (the asking member's
// id, a view into `envelope`), or returns why it cannot be served, with the Error code to answer.
// The asker must be a member of the node's current MemberRing; a request naming a ring (its
// `ring` field, not 0) is refused (WrongRing) unless DigestsAt(node, ring).
const char* ValidateAntiEntropyRequest(const NodeContext& node, const wire::Envelope& envelope,
                                       std::string_view* peer, wire::ErrorCode* code);

// The DigestResponse for a validated DigestRequest.
std::span<const uint8_t> BuildDigestResponse(const NodeContext& node, uint64_t request_id,
                                             std::string_view peer,
                                             const wire::DigestRequest& request,
                                             FrameBuilder& builder);

// Whether the node's MemberRing and every shard's digests are the ring of fingerprint `ring`
// (RingFingerprint). Any thread.
bool DigestsAt(const NodeContext& node, uint64_t ring);

// NodeSummary, for range streaming: FailedPrecondition unless every shard's digests were built for
// the ring of fingerprint `ring` (before and after the summary is taken). Any thread.
StatusOr<MerkleSummary> NodeSummaryAt(const NodeContext& node, std::string_view peer,
                                      uint64_t ring);

// The node-wide Merkle summary of the pair (self, peer): the XOR of the shards' digests, each
// under the ring it was built for (a peer a shard's ring lacks contributes nothing). Any thread.
MerkleSummary NodeSummary(const NodeContext& node, std::string_view peer);

// One shard's part of a KeyVersionsResponse (a KeyVersionsResponse frame, unsorted): the entries
// of `store` in the requested slices shared with the request's peer under `digests`' ring.
// Owner thread of `store`.
std::span<const uint8_t> BuildKeyVersionsPart(const ShardStore& store, const SliceDigests& digests,
                                              const wire::KeyVersionsRequest& request,
                                              uint64_t request_id, FrameBuilder& builder);

// Merges the shards' parts (KeyVersionsResponse frames built by BuildKeyVersionsPart) into the
// response: entries sorted by (slice, key), each key once. Error TooLarge when the response would
// pass `max_bytes` or list more entries than a frame may hold tables (kMaxFrameTables); a part that
// is an Error frame (WrongRing) makes the response that Error.
std::span<const uint8_t> MergeKeyVersionsParts(const std::vector<std::vector<uint8_t>>& parts,
                                               uint64_t request_id, uint64_t max_bytes,
                                               FrameBuilder& builder);

}  // namespace shoal::node
