#include "node/gossip/rebalancer.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "common/hash/key_hash.h"
#include "node/gossip/handoff_plan.h"
#include "node/hints/hint_service.h"
#include "node/server/anti_entropy_handlers.h"
#include "node/server/node_flush.h"
#include "node/server/peer_requests.h"
#include "node/sync/peer_pull.h"

namespace shoal::node {
namespace {

constexpr int kRequestTimeoutMs = 5000;
constexpr uint32_t kScanCount = 512;

bool SameMembers(const std::vector<RingMember>& a, const std::vector<RingMember>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const RingMember& x, const RingMember& y) {
                      return x.id == y.id && x.address == y.address && x.zone == y.zone;
                    });
}

// Whether `members` are the members of `ring` (ids only: the ring a node repairs with also
// counts the JOINING members, the ring the rebalancer hands off for does not).
bool SameIds(const Ring& ring, const std::vector<RingMember>& members) {
  std::vector<std::string> a, b;
  for (const auto& m : ring.members()) a.push_back(m.id);
  for (const auto& m : members) b.push_back(m.id);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

std::string Ids(const std::vector<RingMember>& members) {
  std::string out;
  for (const auto& m : members) out += (out.empty() ? "" : ",") + m.id;
  return out;
}

StatusOr<std::unique_ptr<client::NodeClient>> Open(NodeContext& node, const std::string& address) {
  auto hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  auto c = client::NodeClient::Connect(*hp, kRequestTimeoutMs);
  if (!c.ok()) return c.status();
  auto hello = (*c)->Hello(node.config.cluster, node.config.id, node.config.cluster_secret,
                           kRequestTimeoutMs, wire::PeerRole::Node, node.flush_mark.Get());
  if (!hello.ok()) return hello.status();
  AdoptFlushMark(node, hello->flush_version);  // docs/replication.md, "Flush"
  return std::move(*c);
}

// One page of a node's keys (tombstones are not listed); *cursor becomes the next one (0: the
// end).
Status ScanPage(client::NodeClient& self, uint64_t* cursor, std::vector<std::string>* keys) {
  auto env = Call(self, kRequestTimeoutMs, [&](uint64_t id, FrameBuilder& fb) {
    auto& b = fb.Start();
    auto req = wire::CreateScanRequest(b, *cursor, kScanCount);
    return fb.Finish(id, wire::Message::ScanRequest, req.Union());
  });
  if (!env.ok()) return env.status();
  const auto* resp = (*env)->message_as_ScanResponse();
  if (resp == nullptr) return Status::Corruption("unexpected answer to ScanRequest");
  keys->clear();
  if (resp->keys() != nullptr) {
    for (const auto* k : *resp->keys()) {
      if (k->key() != nullptr) keys->emplace_back(AsView(k->key()));
    }
  }
  *cursor = resp->cursor();
  return Status::Ok();
}

}  // namespace

Rebalancer::Rebalancer(NodeContext& node, GossipService& gossip, std::string host,
                       std::vector<RingMember> initial, int64_t interval_ms,
                       std::string join_marker)
    : node_(node),
      gossip_(gossip),
      self_{std::move(host), 0},
      interval_ms_(std::max<int64_t>(interval_ms, 50)),
      handed_(std::move(initial)),
      join_marker_(std::move(join_marker)),
      pacer_(node.config.stream_rate_bytes) {}

Rebalancer::~Rebalancer() { Stop(); }

void Rebalancer::Start(uint16_t port) {
  self_.port = port;
  thread_ = std::thread([this] { Run(); });
}

void Rebalancer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Rebalancer::Sleep(int64_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_; });
  return !stop_;
}

bool Rebalancer::Stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

bool Rebalancer::Pace(uint64_t bytes) {
  stats_.bytes_streamed.Inc(bytes);
  pacer_.SetRate(node_.stream_rate.load(std::memory_order_relaxed));
  int64_t now = SystemClock::Get().MonotonicMs();
  const int64_t until = now + pacer_.Spend(bytes, now);
  // Waits in short steps, so that a rate a reload changed applies at once (the wait ends).
  while (now < until) {
    if (!Sleep(std::min<int64_t>(until - now, kRateCheckMs))) return false;
    if (pacer_.SetRate(node_.stream_rate.load(std::memory_order_relaxed))) break;
    now = SystemClock::Get().MonotonicMs();
  }
  return true;
}

StatusOr<std::unique_ptr<client::NodeClient>> Rebalancer::OpenSelf() {
  const std::string address = (self_.host.empty() || self_.host == "0.0.0.0" || self_.host == "::")
                                  ? "127.0.0.1:" + std::to_string(self_.port)
                                  : self_.ToString();
  auto self = Open(node_, address);
  if (!self.ok()) return Status::Unavailable("this node: " + self.status().message());
  return self;
}

Status Rebalancer::Decommission() {
  if (gossip_.self_state() == MemberState::kJoining) {
    return Status::FailedPrecondition("this node is still JOINING");
  }
  if (decommission_.exchange(true)) {
    return Status::FailedPrecondition("this node is already decommissioning");
  }
  cv_.notify_all();
  return Status::Ok();
}

void Rebalancer::Run() {
  if (gossip_.self_state() == MemberState::kJoining) {
    if (!RunJoin()) return;
    handed_ = gossip_.RingMembers();
  }
  const int tokens = static_cast<int>(node_.config.tokens_per_node);
  // Rings handed off to in part only (a hand-off toward them stopped): the proxies routed by them
  // meanwhile, so their owners may hold writes the owners of a later ring lack, even when that
  // later ring is handed_ again (a member removed and back before the hand-off ended).
  std::vector<std::vector<RingMember>> unfinished;
  int attempts = 0;
  while (Sleep(interval_ms_)) {
    if (decommission_.load()) {
      RunDecommission();
      return;
    }
    std::vector<RingMember> now = gossip_.RingMembers();
    if (now.empty() || (SameMembers(now, handed_) && unfinished.empty())) {
      attempts = 0;
      continue;
    }
    auto after = Ring::Build(now, tokens);
    if (!after.ok()) {
      handed_ = std::move(now);
      unfinished.clear();
      continue;
    }
    std::vector<const std::vector<RingMember>*> sources = {&handed_};
    for (const auto& ring : unfinished) sources.push_back(&ring);
    const uint64_t pushed = stats_.keys_pushed.Value();
    Status s = Status::Ok();
    for (const std::vector<RingMember>* from : sources) {
      auto before = Ring::Build(*from, tokens);
      if (SameMembers(*from, now) || !before.ok()) continue;
      spdlog::info("rebalance: ring members {} -> {}: pushing the keys new owners gain", Ids(*from),
                   Ids(now));
      // The last attempt copies every key the new owners gain (the Merkle exchanges failed).
      s = HandOff(**before, **after, /*merkle=*/attempts + 1 < kMaxAttempts);
      if (!s.ok()) break;
    }
    if (s.ok()) {
      stats_.handoffs.Inc();
      spdlog::info("rebalance: done ({} keys pushed)", stats_.keys_pushed.Value() - pushed);
    } else {
      stats_.handoff_failures.Inc();
      if (++attempts < kMaxAttempts) {
        spdlog::warn("rebalance: stopped ({}); trying again", s.message());
        const bool known =
            std::any_of(unfinished.begin(), unfinished.end(),
                        [&](const std::vector<RingMember>& r) { return SameMembers(r, now); });
        if (!known && !SameMembers(now, handed_)) unfinished.push_back(std::move(now));
        continue;
      }
      spdlog::error("rebalance: giving up after {} attempts: {}", attempts, s.message());
    }
    attempts = 0;
    handed_ = std::move(now);
    unfinished.clear();
  }
}

void Rebalancer::RunDecommission() {
  spdlog::warn("decommission: turning LEAVING");
  if (Status s = gossip_.SetSelfState(MemberState::kLeaving); !s.ok()) {
    spdlog::error("decommission: {}", s.message());
    return;
  }
  for (int attempt = 1;; ++attempt) {
    std::vector<RingMember> now = gossip_.RingMembers();
    std::vector<RingMember> without;
    for (const auto& m : now) {
      if (m.id != node_.config.id) without.push_back(m);
    }
    if (without.empty()) {
      spdlog::error("decommission: no other member to hand the keys to; staying LEAVING");
      return;
    }
    auto before = Ring::Build(now, static_cast<int>(node_.config.tokens_per_node));
    auto after = Ring::Build(without, static_cast<int>(node_.config.tokens_per_node));
    if (!before.ok() || !after.ok()) return;
    // This node leaves every preference list: no pair of the new ring has it (no digests to
    // compare), so it copies every key to the owners replacing it.
    Status s = HandOff(**before, **after, /*merkle=*/false);
    if (s.ok()) break;
    stats_.handoff_failures.Inc();
    if (attempt >= kMaxAttempts) {
      // An owner that does not answer (dead, not yet removed) must not hold the node forever:
      // the keys' other owners have them, and its removal re-replicates them.
      spdlog::error("decommission: keys not all handed off ({}); going on", s.message());
      break;
    }
    spdlog::warn("decommission: hand-off stopped ({}), attempt {}", s.message(), attempt);
    if (!Sleep(interval_ms_)) return;
  }
  stats_.handoffs.Inc();
  spdlog::warn("decommission: {} keys handed to their next owners", stats_.keys_pushed.Value());
  for (int attempt = 1;; ++attempt) {
    std::vector<RingMember> without = gossip_.RingMembers();
    std::erase_if(without, [&](const RingMember& m) { return m.id == node_.config.id; });
    auto after = Ring::Build(without, static_cast<int>(node_.config.tokens_per_node));
    if (!after.ok()) break;
    Status s = HandOffHints(**after);
    if (s.ok()) break;
    stats_.handoff_failures.Inc();
    if (attempt >= kMaxAttempts) {
      spdlog::error("decommission: hints not all handed off ({}); the rest leave with this node",
                    s.message());
      break;
    }
    spdlog::warn("decommission: hint hand-off stopped ({}), attempt {}", s.message(), attempt);
    if (!Sleep(interval_ms_)) return;
  }
  spdlog::warn("decommission: {} hints handed off; turning REMOVED",
               stats_.hints_handed_off.Value());
  (void)gossip_.SetSelfState(MemberState::kRemoved);
  // Long enough for the REMOVED record to reach the peers (and the proxies through them).
  if (!Sleep(std::max<int64_t>(10 * interval_ms_, 1000))) return;
  spdlog::warn("decommission: done; stopping");
  ::kill(::getpid(), SIGTERM);
}

bool Rebalancer::RunJoin() {
  const NodeConfig& config = node_.config;
  const RingMember me{config.id, config.advertise_address, config.zone};
  const int tokens = static_cast<int>(config.tokens_per_node);
  bool waited = false;
  for (int attempt = 1;; ++attempt) {
    std::vector<RingMember> now = gossip_.RingMembers();
    std::erase_if(now, [&](const RingMember& m) { return m.id == me.id; });
    std::vector<RingMember> peers;
    {
      const MembersListing listing = gossip_.Listing();
      for (const auto& m : now) {
        const bool down =
            std::any_of(listing.entries.begin(), listing.entries.end(), [&](const MemberView& v) {
              return v.record.id == m.id && v.state == MemberState::kDown;
            });
        if (!down) peers.push_back(m);
      }
    }
    auto self = OpenSelf();
    if (!self.ok()) {
      spdlog::warn("join: {}", self.status().message());
      if (!Sleep(interval_ms_)) return false;
      continue;
    }
    if (!waited) {
      // A cluster that holds no key yet (being created): nothing to pull, nothing to wait for.
      bool any = false;
      for (const auto& m : peers) {
        auto conn = Open(node_, m.address);
        uint64_t cursor = 0;
        std::vector<std::string> keys;
        if (!conn.ok() || !ScanPage(**conn, &cursor, &keys).ok() || !keys.empty()) any = true;
      }
      waited = true;
      if (!any) break;
      spdlog::info("join: JOINING; pulling the ranges this node gains from {} in {} ms", Ids(peers),
                   config.join_wait_ms);
      if (!Sleep(config.join_wait_ms)) return false;
      continue;  // the ring may have changed meanwhile
    }
    auto before = Ring::Build(now, tokens);
    std::vector<RingMember> with = now;
    with.push_back(me);
    auto after = Ring::Build(with, tokens);
    if (now.empty() || !before.ok() || !after.ok()) break;
    Status failed = Status::Ok();
    const uint64_t pulled = stats_.keys_joined.Value();
    // Merkle-guided when the ring this node repairs with is the one it joins (no other member
    // JOINING) and its digests are built for it (they are within a shard tick of a change); the
    // last attempt copies every key instead.
    const uint64_t ring = RingFingerprint(**after, static_cast<int>(config.replicas));
    const bool merkle = attempt < kMaxAttempts && WaitDigestsFor(**after);
    for (const auto& m : peers) {
      spdlog::info("join: pulling from {} ({})", m.id, merkle ? "Merkle-guided" : "every key");
      Status s = merkle ? Stream(m, ring, /*push=*/false, **self)
                        : PullGained(**before, **after, m, **self);
      if (!s.ok()) {
        if (Stopping()) return false;
        spdlog::warn("join: pulling from {}: {}", m.id, s.message());
        failed = s;
      }
    }
    spdlog::info("join: {} keys pulled (attempt {}, {})", stats_.keys_joined.Value() - pulled,
                 attempt, merkle ? "Merkle-guided" : "every key");
    if (failed.ok()) break;
    stats_.handoff_failures.Inc();
    if (attempt >= kMaxAttempts) {
      spdlog::error("join: giving up on the members that failed (their keys are on the others)");
      break;
    }
    if (!Sleep(interval_ms_)) return false;
  }
  if (Status s = gossip_.SetSelfState(MemberState::kNormal); !s.ok()) {
    spdlog::error("join: {}", s.message());
  }
  if (!join_marker_.empty()) {
    std::error_code ec;
    std::filesystem::remove(join_marker_, ec);
  }
  spdlog::info("join: done; this node is NORMAL ({} keys pulled)", stats_.keys_joined.Value());
  return true;
}

bool Rebalancer::WaitDigestsFor(const Ring& ring) {
  const RingSnapshotPtr members = node_.members != nullptr ? node_.members->Current() : nullptr;
  if (members == nullptr || !SameIds(*members->ring, ring.members())) return false;
  const uint64_t fingerprint = RingFingerprint(ring, static_cast<int>(node_.config.replicas));
  // The gossip thread replaces the MemberRing after the round that changed the table; each
  // shard rebuilds its digests at its next tick (10 ms).
  for (int i = 0; i < kDigestWaitSteps; ++i) {
    if (DigestsAt(node_, fingerprint)) return true;
    if (!Sleep(std::max<int64_t>(interval_ms_ / 4, 10))) return false;
  }
  return false;
}

Status Rebalancer::Stream(const RingMember& peer, uint64_t ring, bool push,
                          client::NodeClient& self) {
  auto conn = Open(node_, peer.address);
  if (!conn.ok()) return conn.status();
  PullTarget t;
  t.peer = conn->get();
  t.self = &self;
  t.self_id = node_.config.id;
  t.peer_id = peer.id;
  t.timeout_ms = kRequestTimeoutMs;
  t.flush_mark = node_.flush_mark.Get();
  t.adopt_flush_mark = [this](Version marker) { AdoptFlushMark(node_, marker); };
  t.ring = ring;
  PullCounters done;  // what the stats hold of the counters so far
  auto account = [&](const PullCounters& c) {
    (push ? stats_.keys_pushed : stats_.keys_joined).Inc(c.keys_pulled - done.keys_pulled);
    if (push) stats_.keys_stale.Inc(c.keys_stale - done.keys_stale);
    stats_.keys_scanned.Inc(c.keys_compared - done.keys_compared);
    stats_.slices_compared.Inc(c.differing_slices - done.differing_slices);
    const uint64_t bytes = c.bytes_moved - done.bytes_moved;
    done = c;
    return Pace(bytes);
  };
  for (int wait = 0;; ++wait) {
    // FailedPrecondition (WrongRing): one side's member table or digests are not yet that ring
    // (gossip takes a few rounds to reach everyone): ask again a little later.
    auto local = NodeSummaryAt(node_, peer.id, ring);
    Status s = local.status();
    if (local.ok()) {
      PullCounters counters;
      done = PullCounters{};
      s = push ? PushToPeer(t, *local, &counters, account)
               : PullFromPeer(t, *local, &counters, account);
      account(counters);
    }
    if (s.code() != Status::Code::kFailedPrecondition || wait >= kDigestWaitSteps) return s;
    if (!Sleep(std::max<int64_t>(interval_ms_ / 4, 10))) return Status::Unavailable("stopping");
  }
}

Status Rebalancer::PullGained(const Ring& before, const Ring& after, const RingMember& peer,
                              client::NodeClient& self) {
  auto conn = Open(node_, peer.address);
  if (!conn.ok()) return conn.status();
  const std::string& self_id = node_.config.id;
  const int n = static_cast<int>(node_.config.replicas);
  std::vector<std::string> keys;
  std::vector<std::string> gained;
  uint64_t cursor = 0;
  do {
    if (Status s = ScanPage(**conn, &cursor, &keys); !s.ok()) return s;
    stats_.keys_scanned.Inc(keys.size());
    gained.clear();
    for (const std::string& key : keys) {
      int old_owners[Ring::kMaxReplicas];
      int new_owners[Ring::kMaxReplicas];
      const uint64_t hash = KeyHash(key);
      const int old_n = before.PreferenceList(hash, n, old_owners);
      const int new_n = after.PreferenceList(hash, n, new_owners);
      bool from_peer = false;
      bool to_self = false;
      for (int i = 0; i < old_n; ++i) from_peer |= before.members()[old_owners[i]].id == peer.id;
      for (int i = 0; i < new_n; ++i) to_self |= after.members()[new_owners[i]].id == self_id;
      if (from_peer && to_self) gained.push_back(key);
    }
    if (gained.empty()) continue;
    std::vector<PulledState> states;
    if (Status s = FetchKeyStates(**conn, gained, kRequestTimeoutMs, &states); !s.ok()) return s;
    PullCounters written;
    if (Status s = WriteKeyStates(self, states, kRequestTimeoutMs, &written); !s.ok()) {
      return Status::Unavailable("this node: " + s.message());
    }
    stats_.keys_joined.Inc(written.keys_pulled);
    uint64_t bytes = 0;
    for (const auto& st : states) bytes += st.key.size() + st.value.size();
    if (!Pace(bytes)) return Status::Unavailable("stopping");
  } while (cursor != 0);
  return Status::Ok();
}

Status Rebalancer::HandOffHints(const Ring& after) {
  if (node_.hints == nullptr) return Status::Ok();
  hints::HintSpool& spool = node_.hints->spool();
  const std::string& self_id = node_.config.id;
  const int n = static_cast<int>(node_.config.replicas);
  // Connections by member id; nullptr: not a member, or unreachable this time.
  std::map<std::string, std::unique_ptr<client::NodeClient>> conns;
  auto conn_of = [&](const std::string& id) -> client::NodeClient* {
    if (auto it = conns.find(id); it != conns.end()) return it->second.get();
    std::unique_ptr<client::NodeClient> c;
    if (const int index = after.IndexOf(id); index >= 0) {
      auto opened = Open(node_, after.members()[index].address);
      if (opened.ok()) c = std::move(*opened);
    }
    return (conns[id] = std::move(c)).get();
  };
  for (const std::string& target : spool.Targets()) {
    std::string cursor;
    while (true) {
      auto batch = spool.Next(target, cursor, 256, hint_counters_);
      if (!batch.ok()) return batch.status();
      if (batch->empty()) break;
      cursor = hints::EncodeHintKey(batch->back());
      std::vector<PulledState> states;
      uint64_t bytes = 0;
      for (const hints::Hint& h : *batch) {
        states.push_back({h.key, h.value, h.version, h.expiry_version,
                          static_cast<uint64_t>(h.expire_at_ms), h.tombstone,
                          static_cast<wire::ValueType>(h.value_type)});
        bytes += h.key.size() + h.value.size();
      }
      PullCounters written;
      bool delivered = false;
      if (client::NodeClient* c = conn_of(target); c != nullptr) {
        delivered = WriteKeyStates(*c, states, kRequestTimeoutMs, &written).ok();
        if (!delivered) conns[target].reset();
      }
      if (!delivered) {
        // The target is gone or does not answer: the key's owners without this node get it.
        std::map<std::string, std::vector<PulledState>> by_owner;
        for (const PulledState& st : states) {
          int owners[Ring::kMaxReplicas];
          const int count = after.PreferenceList(KeyHash(st.key), n, owners);
          for (int i = 0; i < count; ++i) {
            const std::string& id = after.members()[owners[i]].id;
            if (id != target && id != self_id) by_owner[id].push_back(st);
          }
        }
        for (const auto& [id, owned] : by_owner) {
          client::NodeClient* c = conn_of(id);
          if (c == nullptr) return Status::Unavailable(id + ": unreachable");
          if (Status s = WriteKeyStates(*c, owned, kRequestTimeoutMs, &written); !s.ok()) {
            conns[id].reset();
            return Status::Unavailable(id + ": " + s.message());
          }
        }
      }
      if (Status s = spool.Remove(*batch, hint_counters_); !s.ok()) return s;
      stats_.hints_handed_off.Inc(batch->size());
      if (!Pace(bytes)) return Status::Unavailable("stopping");
    }
  }
  return Status::Ok();
}

Status Rebalancer::HandOff(const Ring& before, const Ring& after, bool merkle) {
  const std::string& self_id = node_.config.id;
  auto self = OpenSelf();
  if (!self.ok()) return self.status();
  const int n = static_cast<int>(node_.config.replicas);
  const uint64_t ring = RingFingerprint(after, n);
  merkle = merkle && WaitDigestsFor(after);
  std::set<std::string> streamed;  // members to stream the pair (self, member) to, Merkle-guided
  std::map<std::string, std::unique_ptr<client::NodeClient>> targets;
  std::map<std::string, std::vector<std::string>> batches;  // target id -> keys to copy
  std::vector<std::string> keys;
  KeyMoves moves;
  uint64_t cursor = 0;
  do {
    if (Status s = ScanPage(**self, &cursor, &keys); !s.ok()) return s;
    stats_.keys_scanned.Inc(keys.size());
    batches.clear();
    for (const std::string& key : keys) {
      PlanKeyMoves(before, after, self_id, n, KeyHash(key), merkle, &moves);
      for (const int m : moves.stream) streamed.insert(after.members()[m].id);
      for (const int m : moves.copy) batches[after.members()[m].id].push_back(key);
    }
    for (auto& [id, batch] : batches) {
      auto& conn = targets[id];
      if (conn == nullptr) {
        const int index = after.IndexOf(id);
        auto opened = Open(node_, after.members()[index].address);
        if (!opened.ok()) return Status::Unavailable(id + ": " + opened.status().message());
        conn = std::move(*opened);
      }
      std::vector<PulledState> states;
      if (Status s = FetchKeyStates(**self, batch, kRequestTimeoutMs, &states); !s.ok()) {
        return s;
      }
      PullCounters written;
      if (Status s = WriteKeyStates(*conn, states, kRequestTimeoutMs, &written); !s.ok()) {
        return Status::Unavailable(id + ": " + s.message());
      }
      stats_.keys_pushed.Inc(written.keys_pulled);
      stats_.keys_stale.Inc(written.keys_stale);
      if (!Pace(written.bytes_moved)) return Status::Unavailable("stopping");
    }
  } while (cursor != 0);
  for (const std::string& id : streamed) {
    const RingMember& member = after.members()[after.IndexOf(id)];
    if (Status s = Stream(member, ring, /*push=*/true, **self); !s.ok()) {
      return Status::Unavailable(id + ": " + s.message());
    }
  }
  return Status::Ok();
}

}  // namespace shoal::node
