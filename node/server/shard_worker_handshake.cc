// ShardWorker's side of the Hello / Auth handshake (see "Hello and Auth" in shard_worker.h and
// common/auth/handshake.h). Split from shard_worker.cc to keep files small; same class, same
// thread rules (the worker's thread only).

#include <spdlog/spdlog.h>

#include <string>

#include "common/auth/handshake.h"
#include "common/wire/version_wire.h"
#include "node/server/node_flush.h"
#include "node/server/node_info.h"
#include "node/server/shard_worker.h"

namespace shoal::node {

void ShardWorker::HandleHello(Connection* c, const wire::Envelope& envelope) {
  const wire::Hello* hello = envelope.message_as_Hello();
  const std::string_view cluster =
      hello->cluster() != nullptr ? hello->cluster()->string_view() : std::string_view();
  if (cluster != node_.config.cluster) {
    stats_.wrong_cluster.Inc();
    spdlog::warn("refusing Hello from {}: cluster '{}', this node is in '{}'", c->peer, cluster,
                 node_.config.cluster);
    const std::string message = "cluster '" + std::string(cluster) +
                                "' does not match this node's cluster '" + node_.config.cluster +
                                "'";
    ReplyError(c, envelope.request_id(), wire::ErrorCode::WrongCluster, message);
    Drain(c);
    return;
  }
  if (hello->sender_id() != nullptr) {
    spdlog::debug("shard {}: Hello from {} ({}, {})", index_, c->peer,
                  hello->sender_id()->string_view(), wire::EnumNamePeerRole(hello->role()));
  }
  c->peer_is_node = hello->role() == wire::PeerRole::Node;
  OfferFlushMark(c, hello->flush_version());
  const std::string& secret = node_.config.cluster_secret;
  auth::Proof node_proof{};
  if (!secret.empty()) {
    // A new challenge for every Hello: a proof made for an earlier one is not accepted.
    c->challenge = auth::NewNonce();
    c->challenged = true;
    c->peer_sender_id = hello->sender_id() != nullptr ? hello->sender_id()->str() : std::string();
    node_proof = auth::NodeProof(secret, auth::AsSpan(hello->nonce()), node_.config.id,
                                 node_.config.cluster);
  }
  auto& b = builder_.Start();
  auto cluster_name = b.CreateString(node_.config.cluster);
  auto node_id = b.CreateString(node_.config.id);
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> challenge = 0, proof = 0;
  if (!secret.empty()) {
    challenge = b.CreateVector(c->challenge.data(), c->challenge.size());
    proof = b.CreateVector(node_proof.data(), node_proof.size());
  }
  const wire::Version mark = wire::ToWire(node_.flush_mark.Get());
  auto resp = wire::CreateHelloResponse(b, kProtocolVersion, cluster_name, node_id,
                                        NodeMaxHlc(node_), shards_, max_frame_bytes_, challenge,
                                        proof, !secret.empty(), &mark);
  Reply(c, builder_.Finish(envelope.request_id(), wire::Message::HelloResponse, resp.Union()));
}

void ShardWorker::HandleAuth(Connection* c, const wire::Envelope& envelope) {
  const std::string& secret = node_.config.cluster_secret;
  if (!secret.empty()) {
    if (!c->challenged) {
      RefuseUnauthenticated(c, envelope.request_id(), "Auth before Hello");
      return;
    }
    const auth::Proof expected =
        auth::PeerProof(secret, c->challenge, c->peer_sender_id, node_.config.cluster);
    if (!auth::ProofMatches(expected, auth::AsSpan(envelope.message_as_Auth()->proof()))) {
      RefuseUnauthenticated(c, envelope.request_id(),
                            "wrong Auth proof: the peer does not hold this cluster's secret");
      return;
    }
    c->authenticated = true;
    spdlog::debug("shard {}: {} ({}) authenticated", index_, c->peer, c->peer_sender_id);
    const Version offered{c->offered_flush_hlc, c->offered_flush_writer};
    if (AdoptFlushMark(node_, offered, static_cast<int>(index_))) store_.Flush(offered);
  }
  auto& b = builder_.Start();
  auto resp = wire::CreateAuthResponse(b, true);
  Reply(c, builder_.Finish(envelope.request_id(), wire::Message::AuthResponse, resp.Union()));
}

void ShardWorker::RefuseUnauthenticated(Connection* c, uint64_t request_id, std::string_view why) {
  stats_.auth_failures.Inc();
  spdlog::warn("closing connection from {}: {}", c->peer, why);
  ReplyError(c, request_id, wire::ErrorCode::Unauthenticated, why);
  Drain(c);
}

}  // namespace shoal::node
