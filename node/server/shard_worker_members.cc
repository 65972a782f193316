// ShardWorker: membership (docs/membership.md). The peer side of a gossip exchange (GossipSyn,
// GossipAck2) and MembersRequest, served on the connection's thread under the gossip service's
// short lock (node/gossip/gossip_service.h). A node started with --nodes has no gossip: it answers
// MembersRequest with its static member list and refuses gossip (Unsupported).

#include "common/membership/gossip_wire.h"
#include "node/gossip/gossip_service.h"
#include "node/server/shard_worker.h"

namespace shoal::node {
namespace {

// The listing of a node without gossip: its --nodes members, all Normal, phi 0 (or itself alone).
MembersListing StaticListing(const NodeContext& node) {
  MembersListing listing;
  listing.node_id = node.config.id;
  listing.gossip = false;
  auto add = [&](const std::string& id, const std::string& address) {
    MemberView v;
    v.record.id = id;
    v.record.address = address;
    v.record.state = MemberState::kNormal;
    v.record.tokens = static_cast<uint32_t>(node.config.tokens_per_node);
    v.state = MemberState::kNormal;
    listing.entries.push_back(std::move(v));
  };
  if (node.ring == nullptr) {
    add(node.config.id, node.config.listen);
  } else {
    for (const auto& m : node.ring->members()) add(m.id, m.address);
  }
  std::sort(listing.entries.begin(), listing.entries.end(),
            [](const MemberView& a, const MemberView& b) { return a.record.id < b.record.id; });
  return listing;
}

}  // namespace

void ShardWorker::HandleMembership(Connection* c, const wire::Envelope& envelope) {
  const uint64_t id = envelope.request_id();
  GossipService* gossip = node_.gossip;
  switch (envelope.message_type()) {
    case wire::Message::MembersRequest: {
      const MembersListing listing = gossip != nullptr ? gossip->Listing() : StaticListing(node_);
      auto& b = builder_.Start();
      Reply(c, builder_.Finish(id, wire::Message::MembersResponse,
                               EncodeMembersResponse(b, listing).Union()));
      return;
    }
    case wire::Message::GossipSyn:
    case wire::Message::GossipAck2:
      break;
    default:
      return;
  }
  if (gossip == nullptr) {
    ReplyError(c, id, wire::ErrorCode::Unsupported,
               "this node does not gossip (started with --nodes, or standalone)");
    return;
  }
  if (!c->peer_is_node) {
    stats_.bad_requests.Inc();
    ReplyError(c, id, wire::ErrorCode::BadRequest, "only nodes gossip (Hello with role Node)");
    return;
  }
  if (envelope.message_type() == wire::Message::GossipSyn) {
    const GossipAckMessage ack = gossip->OnSyn(DecodeSyn(*envelope.message_as_GossipSyn()));
    auto& b = builder_.Start();
    std::span<const uint8_t> frame =
        builder_.Finish(id, wire::Message::GossipAck, EncodeAck(b, ack).Union());
    gossip->counters().bytes_sent.fetch_add(frame.size(), std::memory_order_relaxed);
    Reply(c, frame);
    return;
  }
  gossip->OnAck2(DecodeAck2(*envelope.message_as_GossipAck2()));
  auto& b = builder_.Start();
  Reply(c, builder_.Finish(id, wire::Message::GossipAck2Response,
                           wire::CreateGossipAck2Response(b).Union()));
}

}  // namespace shoal::node
