#pragma once

// Blocking request helpers for node-to-node exchanges over a NodeClient (anti-entropy pushes,
// node/server/anti_entropy.cc; the start-up pull, node/sync/peer_pull.cc). Caller's thread, never
// a shard loop.

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/client/node_client.h"
#include "common/clock/hlc.h"
#include "common/status/status.h"
#include "common/wire/frame.h"
#include "common/wire/version_wire.h"
#include "schemas/shoal_generated.h"

namespace shoal::node {

// A key's state as docs/replication.md orders it: the greater pair wins.
struct Pair {
  Version version;
  Version expiry;
  auto operator<=>(const Pair&) const = default;
};

// One entry of a KeyVersionsResponse.
struct Listed {
  std::string key;
  Pair pair;
  // A live typed value's typed::BodyDigest (0: a string or a tombstone). The same pair with
  // different non-zero digests: both hold elements the other may lack; each pushes its body and
  // the receiver merges (docs/data-model.md).
  uint64_t body_digest = 0;

  // `peer` (the same key) lacks something this one holds: an older pair, or the same pair with a
  // different typed body.
  bool Ahead(const Pair& peer_pair, uint64_t peer_digest) const {
    return peer_pair < pair ||
           (peer_pair == pair && body_digest != 0 && body_digest != peer_digest);
  }
};

// Sends requests 0..n-1 (build(i, id, builder) returns the frame of request i, built with the
// client's builder and the id given) with at most `window` in flight, and calls
// on_reply(i, envelope) for each reply. The first transport error ends it.
template <typename Build, typename OnReply>
Status Pipeline(client::NodeClient& c, size_t n, size_t window, int timeout_ms, Build&& build,
                OnReply&& on_reply) {
  std::unordered_map<uint64_t, size_t> in_flight;
  size_t next = 0;
  while (next < n || !in_flight.empty()) {
    while (next < n && in_flight.size() < window) {
      const uint64_t id = c.NextRequestId();
      if (Status s = c.Send(build(next, id, c.builder()), timeout_ms); !s.ok()) return s;
      in_flight.emplace(id, next++);
    }
    StatusOr<const wire::Envelope*> reply = c.Receive(timeout_ms);
    if (!reply.ok()) return reply.status();
    auto it = in_flight.find((*reply)->request_id());
    if (it == in_flight.end()) continue;  // a late reply to an abandoned request
    const size_t i = it->second;
    in_flight.erase(it);
    on_reply(i, **reply);
  }
  return Status::Ok();
}

// One request, one reply. An Error reply is an error: TooLarge as ResourceExhausted (ask for
// less), WrongRing as FailedPrecondition (ask again once the member tables agree), any other as
// Unavailable.
template <typename Build>
StatusOr<const wire::Envelope*> Call(client::NodeClient& c, int timeout_ms, Build&& build) {
  const uint64_t id = c.NextRequestId();
  if (Status s = c.Send(build(id, c.builder()), timeout_ms); !s.ok()) return s;
  StatusOr<const wire::Envelope*> reply = c.Await(id, timeout_ms);
  if (!reply.ok()) return reply.status();
  if (const wire::Error* err = (*reply)->message_as_Error()) {
    if (err->code() == wire::ErrorCode::TooLarge) {
      return Status::ResourceExhausted(client::DescribeError(*err));
    }
    if (err->code() == wire::ErrorCode::WrongRing) {
      return Status::FailedPrecondition(client::DescribeError(*err));
    }
    return Status::Unavailable(client::DescribeError(*err));
  }
  return reply;
}

// The keys node `c` holds in `slices` and shares with `peer_id`, with their pairs. `ring` (not
// 0): only as cut by the ring of that fingerprint (else the node answers WrongRing).
inline StatusOr<std::vector<Listed>> KeyVersions(client::NodeClient& c, const std::string& peer_id,
                                                 std::span<const uint32_t> slices, int timeout_ms,
                                                 uint64_t ring = 0) {
  StatusOr<const wire::Envelope*> reply = Call(c, timeout_ms, [&](uint64_t id, FrameBuilder& fb) {
    auto& b = fb.Start();
    auto req = wire::CreateKeyVersionsRequest(b, b.CreateString(peer_id),
                                              b.CreateVector(slices.data(), slices.size()), ring);
    return fb.Finish(id, wire::Message::KeyVersionsRequest, req.Union());
  });
  if (!reply.ok()) return reply.status();
  const wire::KeyVersionsResponse* r = (*reply)->message_as_KeyVersionsResponse();
  if (r == nullptr) return Status::Corruption("unexpected reply to KeyVersions");
  std::vector<Listed> out;
  if (r->entries() == nullptr) return out;
  out.reserve(r->entries()->size());
  for (const wire::KeyVersion* e : *r->entries()) {
    out.push_back({std::string(AsView(e->key())),
                   Pair{FromWire(e->version()), FromWire(e->expiry_version())}, e->body_digest()});
  }
  return out;
}

}  // namespace shoal::node
