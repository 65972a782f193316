// ShardWorker: membership (docs/membership.md). The peer side of a gossip exchange (GossipSyn,
// GossipAck2) and MembersRequest, served on the connection's thread under the gossip service's
// short lock (node/gossip/gossip_service.h). A node started with --nodes has no gossip: it answers
// MembersRequest with its static member list and refuses gossip (Unsupported).

#include "common/membership/gossip_wire.h"
#include "node/gossip/gossip_service.h"
#include "node/gossip/rebalancer.h"
#include "node/server/shard_worker.h"

namespace shoal::node {
namespace {

// The listing of a node without gossip: its --nodes members, all Normal, phi 0 (or itself alone).
MembersListing StaticListing(const NodeContext& node) {
  MembersListing listing;
  listing.node_id = node.config.id;
  listing.gossip = false;
  auto add = [&](const std::string& id, const std::string& address, const std::string& zone) {
    MemberView v;
    v.record.id = id;
    v.record.address = address;
    v.record.zone = zone;
    v.record.state = MemberState::kNormal;
    v.record.tokens = static_cast<uint32_t>(node.config.tokens_per_node);
    v.state = MemberState::kNormal;
    listing.entries.push_back(std::move(v));
  };
  if (node.members == nullptr) {
    add(node.config.id, node.config.listen, node.config.zone);
  } else {
    for (const auto& m : node.members->Current()->ring->members()) add(m.id, m.address, m.zone);
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
    case wire::Message::MemberCommand:
      HandleMemberCommand(c, envelope);
      return;
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
    Reply(c, frame);
    return;
  }
  gossip->OnAck2(DecodeAck2(*envelope.message_as_GossipAck2()));
  auto& b = builder_.Start();
  Reply(c, builder_.Finish(id, wire::Message::GossipAck2Response,
                           wire::CreateGossipAck2Response(b).Union()));
}

void ShardWorker::HandleMemberCommand(Connection* c, const wire::Envelope& envelope) {
  const uint64_t id = envelope.request_id();
  const wire::MemberCommand* cmd = envelope.message_as_MemberCommand();
  GossipService* gossip = node_.gossip;
  if (gossip == nullptr || node_.rebalancer == nullptr) {
    ReplyError(c, id, wire::ErrorCode::Unsupported,
               "membership changes need gossip: this node was started without --seeds");
    return;
  }
  const std::string target = cmd->id() != nullptr ? cmd->id()->str() : "";
  std::string message;
  Status s = Status::Ok();
  switch (cmd->action()) {
    case wire::MemberAction::Remove:
      if (target.empty()) {
        s = Status::InvalidArgument("remove needs a member id");
      } else {
        s = gossip->Remove(target, gossip_counters_);
        message = "member " + target + " is REMOVED; its keys are copied to its replacements";
      }
      break;
    case wire::MemberAction::Decommission:
      if (!target.empty() && target != node_.config.id) {
        s = Status::InvalidArgument("decommission applies to the node asked ('" + node_.config.id +
                                    "'), not to '" + target + "'");
      } else {
        s = node_.rebalancer->Decommission();
        message = "node " + node_.config.id +
                  " is LEAVING: it hands its keys to their next owners, turns REMOVED and exits";
      }
      break;
    default:
      s = Status::InvalidArgument("unknown member action");
  }
  if (!s.ok()) {
    stats_.bad_requests.Inc();
    ReplyError(c, id, wire::ErrorCode::BadRequest, s.message());
    return;
  }
  auto& b = builder_.Start();
  Reply(c, builder_.Finish(id, wire::Message::MemberCommandResponse,
                           wire::CreateMemberCommandResponse(b, b.CreateString(message)).Union()));
}

}  // namespace shoal::node
