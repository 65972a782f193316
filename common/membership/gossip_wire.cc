#include "common/membership/gossip_wire.h"

#include <algorithm>

#include "common/config/options.h"

namespace shoal {
namespace {

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

wire::MemberState ToWire(MemberState s) { return static_cast<wire::MemberState>(s); }
MemberState FromWire(wire::MemberState s) { return static_cast<MemberState>(s); }

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::GossipMember>>> EncodeMembers(
    flatbuffers::FlatBufferBuilder& b, const std::vector<MemberRecord>& records) {
  std::vector<flatbuffers::Offset<wire::GossipMember>> offsets;
  offsets.reserve(records.size());
  for (const auto& r : records) offsets.push_back(EncodeMember(b, r));
  return b.CreateVector(offsets);
}

std::vector<MemberRecord> DecodeMembers(
    const flatbuffers::Vector<flatbuffers::Offset<wire::GossipMember>>* members) {
  std::vector<MemberRecord> out;
  if (members == nullptr) return out;
  out.reserve(members->size());
  for (const auto* m : *members) {
    if (m != nullptr) out.push_back(DecodeMember(*m));
  }
  return out;
}

}  // namespace

flatbuffers::Offset<wire::GossipMember> EncodeMember(flatbuffers::FlatBufferBuilder& b,
                                                     const MemberRecord& r) {
  auto id = b.CreateString(r.id);
  auto address = b.CreateString(r.address);
  auto zone = r.zone.empty() ? flatbuffers::Offset<flatbuffers::String>() : b.CreateString(r.zone);
  return wire::CreateGossipMember(b, id, address, zone, ToWire(r.state), r.incarnation, r.heartbeat,
                                  r.tokens);
}

MemberRecord DecodeMember(const wire::GossipMember& m) {
  MemberRecord r;
  r.id = Str(m.id());
  r.address = Str(m.address());
  r.zone = Str(m.zone());
  r.state = FromWire(m.state());
  r.incarnation = m.incarnation();
  r.heartbeat = m.heartbeat();
  r.tokens = m.tokens();
  return r;
}

flatbuffers::Offset<wire::GossipSyn> EncodeSyn(flatbuffers::FlatBufferBuilder& b,
                                               const GossipSynMessage& syn) {
  std::vector<flatbuffers::Offset<wire::GossipDigest>> digests;
  digests.reserve(syn.digests.size());
  for (const auto& d : syn.digests) {
    digests.push_back(wire::CreateGossipDigest(b, b.CreateString(d.id), d.version.incarnation,
                                               ToWire(d.version.state), d.version.heartbeat));
  }
  return wire::CreateGossipSyn(b, b.CreateVector(digests));
}

GossipSynMessage DecodeSyn(const wire::GossipSyn& syn) {
  GossipSynMessage out;
  if (syn.digests() == nullptr) return out;
  out.digests.reserve(syn.digests()->size());
  for (const auto* d : *syn.digests()) {
    if (d == nullptr) continue;
    out.digests.push_back({Str(d->id()), {d->incarnation(), FromWire(d->state()), d->heartbeat()}});
  }
  return out;
}

flatbuffers::Offset<wire::GossipAck> EncodeAck(flatbuffers::FlatBufferBuilder& b,
                                               const GossipAckMessage& ack) {
  auto members = EncodeMembers(b, ack.members);
  std::vector<flatbuffers::Offset<flatbuffers::String>> wanted;
  wanted.reserve(ack.wanted.size());
  for (const auto& id : ack.wanted) wanted.push_back(b.CreateString(id));
  return wire::CreateGossipAck(b, members, b.CreateVector(wanted));
}

GossipAckMessage DecodeAck(const wire::GossipAck& ack) {
  GossipAckMessage out;
  out.members = DecodeMembers(ack.members());
  if (ack.wanted() != nullptr) {
    for (const auto* id : *ack.wanted()) out.wanted.push_back(Str(id));
  }
  return out;
}

flatbuffers::Offset<wire::GossipAck2> EncodeAck2(flatbuffers::FlatBufferBuilder& b,
                                                 const GossipAck2Message& ack2) {
  return wire::CreateGossipAck2(b, EncodeMembers(b, ack2.members));
}

GossipAck2Message DecodeAck2(const wire::GossipAck2& ack2) {
  return {DecodeMembers(ack2.members())};
}

flatbuffers::Offset<wire::MembersResponse> EncodeMembersResponse(flatbuffers::FlatBufferBuilder& b,
                                                                 const MembersListing& listing) {
  std::vector<flatbuffers::Offset<wire::MembersEntry>> entries;
  entries.reserve(listing.entries.size());
  for (const auto& v : listing.entries) {
    auto member = EncodeMember(b, v.record);
    entries.push_back(wire::CreateMembersEntry(b, member, ToWire(v.state), v.phi,
                                               static_cast<uint64_t>(v.last_heard_ms)));
  }
  return wire::CreateMembersResponse(b, b.CreateString(listing.node_id), listing.gossip,
                                     b.CreateVector(entries));
}

MembersListing DecodeMembersResponse(const wire::MembersResponse& response) {
  MembersListing out;
  out.node_id = Str(response.node_id());
  out.gossip = response.gossip();
  if (response.entries() == nullptr) return out;
  for (const auto* e : *response.entries()) {
    if (e == nullptr || e->member() == nullptr) continue;
    MemberView v;
    v.record = DecodeMember(*e->member());
    v.state = FromWire(e->state());
    v.phi = e->phi();
    v.last_heard_ms = static_cast<int64_t>(e->last_heard_ms());
    out.entries.push_back(std::move(v));
  }
  return out;
}

std::vector<RingMember> MembersOf(const MembersListing& listing, bool (*keep)(MemberState)) {
  std::vector<RingMember> out;
  for (const auto& e : listing.entries) {
    if (!keep(e.record.state)) continue;
    if (!ParseHostPort(e.record.address).ok() || e.record.id.empty()) continue;
    out.push_back({e.record.id, e.record.address, e.record.zone});
  }
  std::sort(out.begin(), out.end(),
            [](const RingMember& a, const RingMember& b) { return a.id < b.id; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const RingMember& a, const RingMember& b) { return a.id == b.id; }),
            out.end());
  return out;
}

}  // namespace shoal
