#include "node/gossip/gossip_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "common/membership/seeds.h"

namespace shoal::node {
namespace {

// Re-resolve seed names this often (rounds).
constexpr uint64_t kResolveEveryRounds = 30;

}  // namespace

GossipService::GossipService(MemberRecord self, GossipOptions options, const Clock& clock)
    : self_id_(self.id),
      options_(std::move(options)),
      clock_(clock),
      rng_(std::random_device{}()),
      table_(std::move(self), PhiOptions::ForInterval(options_.interval_ms, options_.phi_threshold),
             clock) {
  last_ring_generation_ = table_.ring_generation();
  ring_changed_ms_ = clock_.MonotonicMs();
}

GossipService::~GossipService() { Stop(); }

void GossipService::Start() {
  ResolveSeedsNow();
  const std::string& self_address = table_.self().address;
  alone_ = std::all_of(seed_addresses_.begin(), seed_addresses_.end(),
                       [&](const std::string& a) { return a == self_address; });
  thread_ = std::thread([this] { Run(); });
}

void GossipService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GossipService::ResolveSeedsNow() {
  std::vector<std::string> errors;
  std::vector<std::string> resolved = ResolveSeeds(options_.seeds, &errors);
  for (const auto& e : errors) spdlog::warn("gossip: {}", e);
  if (!resolved.empty() || seed_addresses_.empty()) seed_addresses_ = std::move(resolved);
  rounds_since_resolve_ = 0;
}

bool GossipService::WaitSettled(int64_t timeout_ms) {
  if (alone_) return true;
  const int64_t deadline = clock_.MonotonicMs() + timeout_ms;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const int64_t now = clock_.MonotonicMs();
    if (first_exchange_ok_ && now - ring_changed_ms_ >= 3 * options_.interval_ms) return true;
    if (now >= deadline || stop_) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(deadline - now, 50)));
  }
}

void GossipService::NoteChanges(const MergeCounts& counts) {
  // mu_ held.
  if (counts.refuted > 0) {
    spdlog::info("gossip: refuted a newer record of this node; incarnation now {}",
                 table_.self().incarnation);
  }
  if (table_.ring_generation() != last_ring_generation_) {
    last_ring_generation_ = table_.ring_generation();
    ring_changed_ms_ = clock_.MonotonicMs();
    std::string ids;
    for (const auto& m : table_.RingMembers()) ids += (ids.empty() ? "" : ",") + m.id;
    spdlog::info("gossip: ring members now {}", ids);
  }
}

GossipAckMessage GossipService::OnSyn(const GossipSynMessage& syn) {
  std::lock_guard<std::mutex> lock(mu_);
  return HandleSyn(table_, syn);
}

void GossipService::OnAck2(const GossipAck2Message& ack2) {
  std::lock_guard<std::mutex> lock(mu_);
  MergeCounts counts;
  HandleAck2(table_, ack2, &counts);
  NoteChanges(counts);
}

MembersListing GossipService::Listing() {
  std::lock_guard<std::mutex> lock(mu_);
  MembersListing listing;
  listing.node_id = self_id_;
  listing.gossip = true;
  listing.entries = table_.Views();
  return listing;
}

std::vector<RingMember> GossipService::RingMembers() {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.RingMembers();
}

MemberState GossipService::self_state() {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.self().state;
}

Status GossipService::Remove(const std::string& id, GossipStats& counters) {
  std::lock_guard<std::mutex> lock(mu_);
  const MemberState before = table_.StateOf(id);
  Status s = table_.MarkRemoved(id);
  if (!s.ok()) return s;
  if (before != MemberState::kRemoved) {
    counters.members_removed.Inc();
    spdlog::warn("gossip: member {} removed by an operator", id);
  }
  NoteChanges(MergeCounts{});
  return Status::Ok();
}

Status GossipService::SetSelfState(MemberState state) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = table_.SetSelfState(state);
  if (s.ok()) {
    spdlog::info("gossip: this node is now {}", MemberStateName(state));
    NoteChanges(MergeCounts{});
  }
  return s;
}

void GossipService::SetMembersObserver(MembersObserver observer) {
  std::lock_guard<std::mutex> lock(mu_);
  members_observer_ = std::move(observer);
}

void GossipService::RemoveDead(int64_t now) {
  if (options_.dead_after_ms <= 0) return;
  for (const auto& [record, seen] : table_.SeenStates()) {
    if (seen != MemberState::kDown) {
      down_since_ms_.erase(record->id);
      continue;
    }
    auto [it, added] = down_since_ms_.emplace(record->id, now);
    if (added || now - it->second < options_.dead_after_ms) continue;
    const std::string id = record->id;  // the pointers die with the change below
    if (table_.MarkRemoved(id).ok()) {
      stats_.members_removed.Inc();
      spdlog::warn("gossip: member {} DOWN for {} ms (--dead-after): removed", id,
                   now - it->second);
    }
    down_since_ms_.erase(it);
    NoteChanges(MergeCounts{});
    return;  // one per round: the table changed under the loop
  }
}

Status GossipService::Ensure(const std::string& address, client::NodeClient** out) {
  auto it = conns_.find(address);
  if (it != conns_.end()) {
    *out = it->second.get();
    return Status::Ok();
  }
  auto hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  const int timeout = static_cast<int>(std::max<int64_t>(options_.interval_ms, 200));
  auto conn = client::NodeClient::Connect(*hp, timeout);
  if (!conn.ok()) return conn.status();
  auto hello =
      (*conn)->Hello(options_.cluster, self_id_, options_.secret, timeout, wire::PeerRole::Node);
  if (!hello.ok()) return hello.status();
  *out = conn->get();
  conns_[address] = std::move(*conn);
  return Status::Ok();
}

Status GossipService::Exchange(const std::string& address) {
  client::NodeClient* conn = nullptr;
  if (Status s = Ensure(address, &conn); !s.ok()) return s;
  const int timeout = static_cast<int>(std::max<int64_t>(options_.interval_ms, 200));
  // 1. syn -> ack
  uint64_t id = conn->NextRequestId();
  {
    GossipSynMessage syn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      syn = MakeSyn(table_);
    }
    auto& b = builder_.Start();
    auto frame = builder_.Finish(id, wire::Message::GossipSyn, EncodeSyn(b, syn).Union());
    if (Status s = conn->Send(frame, timeout); !s.ok()) return s;
  }
  auto reply = conn->Await(id, timeout);
  if (!reply.ok()) return reply.status();
  if ((*reply)->message_type() == wire::Message::Error) {
    return Status::Unavailable(client::DescribeError(*(*reply)->message_as_Error()));
  }
  const auto* ack_wire = (*reply)->message_as_GossipAck();
  if (ack_wire == nullptr) return Status::Corruption("GossipSyn answered by something else");
  const GossipAckMessage ack = DecodeAck(*ack_wire);
  GossipAck2Message ack2;
  {
    std::lock_guard<std::mutex> lock(mu_);
    MergeCounts counts;
    ack2 = HandleAck(table_, ack, &counts);
    NoteChanges(counts);
    if (counts.invalid > 0) {
      spdlog::warn("gossip: {} refused {} invalid member records", address, counts.invalid);
    }
  }
  // 2. ack2 -> its (empty) answer
  id = conn->NextRequestId();
  {
    auto& b = builder_.Start();
    auto frame = builder_.Finish(id, wire::Message::GossipAck2, EncodeAck2(b, ack2).Union());
    if (Status s = conn->Send(frame, timeout); !s.ok()) return s;
  }
  reply = conn->Await(id, timeout);
  if (!reply.ok()) return reply.status();
  return Status::Ok();
}

void GossipService::Run() {
  while (true) {
    const int64_t started = clock_.MonotonicMs();
    std::vector<std::string> targets;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      RemoveDead(started);
      table_.Beat();
      targets = ChooseGossipTargets(table_, seed_addresses_, rng_);
    }
    for (const std::string& address : targets) {
      Status s = Exchange(address);
      if (s.ok()) {
        stats_.exchanges.Inc();
        std::lock_guard<std::mutex> lock(mu_);
        first_exchange_ok_ = true;
      } else {
        stats_.exchange_failures.Inc();
        conns_.erase(address);  // reconnect next time
        spdlog::debug("gossip with {}: {}", address, s.ToString());
      }
    }
    cv_.notify_all();
    MembersObserver observer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      observer = members_observer_;
    }
    if (observer) observer(MembersOf(Listing(), NotRemovedState));
    if (++rounds_since_resolve_ >= kResolveEveryRounds) ResolveSeedsNow();
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t wait = started + options_.interval_ms - clock_.MonotonicMs();
    if (wait > 0) cv_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return stop_; });
    if (stop_) return;
  }
}

}  // namespace shoal::node
