#include "tools/sim/gossip_sim.h"

#include <algorithm>

#include "common/membership/gossip_wire.h"

namespace shoal::sim {

struct GossipSim::Node {
  std::string id;
  std::string address;
  bool up = false;
  uint64_t life = 0;  // rises on every Start and Kill: events of an earlier life are dropped
  std::unique_ptr<MemberTable> table;
  std::mt19937_64 rng;
};

GossipSim::GossipSim(const GossipSimOptions& options)
    : options_(options), queue_(0), clock_(queue_), rng_(options.seed) {
  for (int i = 0; i < options_.nodes; ++i) AddNode();
  for (int i = 0; i < std::min(options_.seeds, options_.nodes); ++i) {
    seeds_.push_back(nodes_[i]->address);
  }
}

GossipSim::~GossipSim() = default;

int GossipSim::AddNode() {
  auto n = std::make_unique<Node>();
  const int index = static_cast<int>(nodes_.size());
  n->id = "node-" + std::to_string(index);
  n->address = "10." + std::to_string(index / 250) + "." + std::to_string(index % 250) + ".1:7000";
  by_address_[n->address] = index;
  nodes_.push_back(std::move(n));
  return index;
}

int GossipSim::NodeOf(const std::string& address) const {
  auto it = by_address_.find(address);
  return it == by_address_.end() ? -1 : it->second;
}

bool GossipSim::up(int node) const { return nodes_[node]->up; }
const MemberTable& GossipSim::table(int node) const { return *nodes_[node]->table; }
const std::string& GossipSim::id(int node) const { return nodes_[node]->id; }

void GossipSim::Start(int node) {
  Node& n = *nodes_[node];
  MemberRecord self;
  self.id = n.id;
  self.address = n.address;
  self.state = MemberState::kNormal;
  self.incarnation = 1;
  self.heartbeat = 0;
  self.tokens = 512;
  PhiOptions phi = PhiOptions::ForInterval(options_.interval_ms, options_.phi_threshold);
  phi.max_samples = options_.phi_max_samples;
  if (options_.phi_min_std_dev_ms > 0) phi.min_std_dev_ms = options_.phi_min_std_dev_ms;
  if (options_.phi_acceptable_pause_ms >= 0)
    phi.acceptable_pause_ms = options_.phi_acceptable_pause_ms;
  n.table = std::make_unique<MemberTable>(self, phi, clock_);
  n.rng.seed(rng_.Next());
  n.up = true;
  const uint64_t life = ++n.life;
  queue_.After(rng_.Range(0, options_.interval_ms - 1), [this, node, life] { Round(node, life); });
}

void GossipSim::StartAll() {
  for (int i = 0; i < size(); ++i) Start(i);
}

void GossipSim::Kill(int node) {
  nodes_[node]->up = false;
  ++nodes_[node]->life;
}

void GossipSim::RunTo(int64_t at_ms) { queue_.RunTo(at_ms); }

void GossipSim::Send(int from, int to, std::span<const uint8_t> frame,
                     std::function<void(const wire::Envelope&)> deliver) {
  ++traffic_.messages;
  traffic_.bytes += frame.size();
  if (rng_.Chance(options_.loss)) {
    ++traffic_.lost;
    return;
  }
  auto bytes = std::make_shared<std::vector<uint8_t>>(frame.begin(), frame.end());
  const uint64_t life = nodes_[to]->life;
  queue_.After(rng_.Range(options_.min_latency_ms, options_.max_latency_ms),
               [this, to, life, bytes, deliver = std::move(deliver)] {
                 if (!nodes_[to]->up || nodes_[to]->life != life) return;
                 DecodedFrame decoded;
                 if (DecodeFrame(bytes->data(), bytes->size(), kDefaultMaxFrameBytes, &decoded) !=
                     FrameStatus::kOk) {
                   return;
                 }
                 deliver(*decoded.envelope);
               });
}

void GossipSim::Round(int node, uint64_t life) {
  Node& n = *nodes_[node];
  if (!n.up || n.life != life) return;
  queue_.After(options_.interval_ms, [this, node, life] { Round(node, life); });
  n.table->Beat();
  for (const std::string& address : ChooseGossipTargets(*n.table, seeds_, n.rng)) {
    const int peer = NodeOf(address);
    if (peer < 0) continue;
    auto& b = builder_.Start();
    auto syn =
        builder_.Finish(1, wire::Message::GossipSyn, EncodeSyn(b, MakeSyn(*n.table)).Union());
    // The peer answers the syn with an ack; the initiator answers the ack with an ack2.
    Send(node, peer, syn, [this, node, peer, life](const wire::Envelope& env) {
      const auto* s = env.message_as_GossipSyn();
      if (s == nullptr) return;
      const GossipAckMessage ack = HandleSyn(*nodes_[peer]->table, DecodeSyn(*s));
      auto& b = builder_.Start();
      auto frame = builder_.Finish(1, wire::Message::GossipAck, EncodeAck(b, ack).Union());
      Send(peer, node, frame, [this, node, peer](const wire::Envelope& env) {
        const auto* a = env.message_as_GossipAck();
        if (a == nullptr) return;
        const GossipAck2Message ack2 = HandleAck(*nodes_[node]->table, DecodeAck(*a));
        auto& b = builder_.Start();
        auto frame = builder_.Finish(1, wire::Message::GossipAck2, EncodeAck2(b, ack2).Union());
        Send(node, peer, frame, [this, peer](const wire::Envelope& env) {
          const auto* a2 = env.message_as_GossipAck2();
          if (a2 != nullptr) HandleAck2(*nodes_[peer]->table, DecodeAck2(*a2));
        });
      });
    });
  }
}

bool GossipSim::AllKnowAll() const {
  std::vector<const Node*> live;
  for (const auto& n : nodes_) {
    if (n->up) live.push_back(n.get());
  }
  for (const Node* observer : live) {
    for (const auto& n : nodes_) {
      if (n->table == nullptr) continue;  // never started
      const MemberRecord* r = observer->table->Find(n->id);
      if (r == nullptr) return false;
      if (n->up &&
          (r->incarnation != n->table->self().incarnation || r->state != n->table->self().state)) {
        return false;
      }
    }
  }
  return true;
}

int GossipSim::CountSeeing(int node, MemberState state) const {
  int count = 0;
  for (int i = 0; i < size(); ++i) {
    if (i == node || !nodes_[i]->up) continue;
    if (nodes_[i]->table->StateOf(nodes_[node]->id) == state) ++count;
  }
  return count;
}

int GossipSim::running() const {
  return static_cast<int>(
      std::count_if(nodes_.begin(), nodes_.end(), [](const auto& n) { return n->up; }));
}

int GossipSim::FalseDownPairs() const {
  int pairs = 0;
  for (const auto& observer : nodes_) {
    if (!observer->up) continue;
    for (const auto& [record, seen] : observer->table->SeenStates()) {
      if (seen != MemberState::kDown) continue;
      for (const auto& n : nodes_) {
        if (n->id == record->id && n->up) ++pairs;
      }
    }
  }
  return pairs;
}

}  // namespace shoal::sim
