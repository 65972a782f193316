#include "node/server/anti_entropy.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/wire/version_wire.h"
#include "node/server/anti_entropy_handlers.h"
#include "node/server/node_flush.h"
#include "node/server/peer_requests.h"
#include "node/sync/peer_pull.h"

namespace shoal::node {

namespace {

constexpr int kTimeoutMs = 5000;
// Slices per KeyVersions exchange start at kFirstBatchSlices and adapt so that a batch lists
// about kTargetKeysPerBatch keys (each batch costs every shard of both nodes a pass over its
// table, so fewer, larger batches are cheaper while the answers stay well under a frame, which
// may list at most kMaxFrameTables - 2 keys); a batch answered TooLarge is halved. Requests in
// flight on one connection: kWindow.
constexpr size_t kFirstBatchSlices = 64;
constexpr size_t kTargetKeysPerBatch = kMaxFrameTables / 2;
constexpr size_t kWindow = 128;

}  // namespace

AntiEntropy::AntiEntropy(NodeContext& node) : node_(node) { FollowMembers(); }

void AntiEntropy::FollowMembers() {
  const RingSnapshotPtr members = node_.members->Current();
  if (!peers_.empty() && members->generation == peers_generation_) return;
  std::vector<Peer> next;
  const auto& ring = members->ring->members();
  for (int m = 0; m < static_cast<int>(ring.size()); ++m) {
    if (m == members->self) continue;
    Peer p;
    p.id = ring[m].id;
    p.address = ring[m].address;
    for (Peer& old : peers_) {
      if (old.id == p.id && old.address == p.address) p.conn = std::move(old.conn);
    }
    p.settled_local.assign(kSlices, 0);
    p.settled_peer.assign(kSlices, 0);
    p.settled.assign(kSlices, false);
    p.batch_slices = kFirstBatchSlices;
    next.push_back(std::move(p));
  }
  if (self_address_ != ring[members->self].address) local_.reset();
  self_address_ = ring[members->self].address;
  peers_ = std::move(next);
  peers_generation_ = members->generation;
}

AntiEntropy::~AntiEntropy() { Stop(); }

void AntiEntropy::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "shoal-antientr");
    Run();
  });
}

void AntiEntropy::Stop() {
  std::vector<RepairDone> unanswered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    unanswered = requests_.Close();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (RepairDone& done : unanswered) done(RepairRefused("the node is shutting down"));
}

bool AntiEntropy::RequestRepair(RepairDone done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!requests_.Add(std::move(done))) return false;
  }
  cv_.notify_all();
  return true;
}

bool AntiEntropy::stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void AntiEntropy::IntervalChanged() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    rearm_ = true;
  }
  cv_.notify_all();
}

void AntiEntropy::Run() {
  while (true) {
    std::vector<RepairDone> serving;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto woken = [this] { return stop_ || rearm_ || !requests_.empty(); };
      const int64_t interval_ms = node_.anti_entropy_interval_ms.load(std::memory_order_relaxed);
      if (interval_ms > 0) {
        cv_.wait_for(lock, std::chrono::milliseconds(interval_ms), woken);
      } else {
        cv_.wait(lock, woken);  // no periodic rounds: on demand only
      }
      if (stop_) return;  // Stop() answers the requests still queued
      serving = requests_.TakeAll();
      // A reload changed the interval: wait again, with the new one, from now.
      if (std::exchange(rearm_, false) && serving.empty()) continue;
    }
    if (serving.empty()) {
      RunRound(/*pull=*/false);
      continue;
    }
    // Every request in `serving` arrived before this round started.
    node_.anti_entropy.repairs.Inc();
    RepairResult result = RunRound(/*pull=*/true);
    if (stopping()) result = RepairRefused("the node is shutting down: the round was cut short");
    for (RepairDone& done : serving) done(result);
  }
}

RepairResult AntiEntropy::RunRound(bool pull) {
  round_bytes_ = 0;
  round_start_ms_ = node_.clock.MonotonicMs();
  const uint64_t keys_before = node_.anti_entropy.keys_repaired.Value();
  const uint64_t bytes_before = node_.anti_entropy.bytes_repaired.Value();
  uint32_t peers_ok = 0;
  std::vector<std::string> failures;
  FollowMembers();
  for (Peer& p : peers_) {
    if (stopping()) break;
    Status s = SyncPeer(p);
    if (s.ok() && pull && !stopping()) s = PullPeer(p);
    if (!s.ok()) {
      const std::string& id = p.id;
      node_.anti_entropy.errors.Inc();
      spdlog::info("anti-entropy with {}: {}", id, s.ToString());
      failures.push_back(id + ": " + s.ToString());
      p.conn.reset();
      local_.reset();
    } else {
      ++peers_ok;
    }
  }
  node_.anti_entropy.rounds.Inc();
  // Only this thread adds to the counters: their growth is this round's.
  return RepairRoundResult(peers_ok, failures,
                           node_.anti_entropy.keys_repaired.Value() - keys_before,
                           node_.anti_entropy.bytes_repaired.Value() - bytes_before);
}

Status AntiEntropy::PullPeer(Peer& p) {
  PullTarget target;
  target.peer = p.conn.get();
  target.self = local_.get();
  target.self_id = node_.config.id;
  target.flush_mark = node_.flush_mark.Get();
  target.adopt_flush_mark = [this](Version marker) { AdoptFlushMark(node_, marker); };
  target.peer_id = p.id;
  target.timeout_ms = kTimeoutMs;
  PullCounters counters;
  uint64_t throttled_bytes = 0;
  Status s =
      PullFromPeer(target, NodeSummary(node_, p.id), &counters, [&](const PullCounters& so_far) {
        // Pulled bytes count toward --anti-entropy-rate like pushed ones.
        round_bytes_ += so_far.bytes_pulled - throttled_bytes;
        throttled_bytes = so_far.bytes_pulled;
        return Throttle();
      });
  node_.anti_entropy.summary_nodes.Inc(counters.summary_nodes);
  node_.anti_entropy.keys_repaired.Inc(counters.keys_pulled);
  node_.anti_entropy.bytes_repaired.Inc(counters.bytes_pulled);
  return s;
}

Status AntiEntropy::Ensure(std::unique_ptr<client::NodeClient>& conn, const std::string& address) {
  if (conn != nullptr) return Status::Ok();
  StatusOr<HostPort> hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  StatusOr<std::unique_ptr<client::NodeClient>> c = client::NodeClient::Connect(*hp, kTimeoutMs);
  if (!c.ok()) return c.status();
  StatusOr<client::HelloReply> hello =
      (*c)->Hello(node_.config.cluster, node_.config.id, node_.config.cluster_secret, kTimeoutMs,
                  wire::PeerRole::Node, node_.flush_mark.Get());
  if (!hello.ok()) return hello.status();
  AdoptFlushMark(node_, hello->flush_version);
  conn = std::move(*c);
  return Status::Ok();
}

bool AntiEntropy::Throttle() {
  const uint64_t rate = node_.anti_entropy_rate.load(std::memory_order_relaxed);
  if (rate == 0) return !stopping();
  // The time the bytes pushed so far are allowed to take at the rate, from the round's start.
  const int64_t due_ms = round_start_ms_ + static_cast<int64_t>(round_bytes_ * 1000 / rate);
  const int64_t wait_ms = due_ms - node_.clock.MonotonicMs();
  std::unique_lock<std::mutex> lock(mu_);
  if (wait_ms > 0) {
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stop_; });
  }
  return !stop_;
}

Status AntiEntropy::SyncPeer(Peer& p) {
  const Peer& member = p;
  const std::string& self_id = node_.config.id;
  if (Status s = Ensure(p.conn, p.address); !s.ok()) return s;
  if (Status s = Ensure(local_, self_address_); !s.ok()) return s;
  client::NodeClient& peer = *p.conn;
  client::NodeClient& local = *local_;

  // 1. Summaries: root first, then only the children of differing nodes.
  const MerkleSummary summary = NodeSummary(node_, p.id);
  std::vector<uint64_t> their_leaves(kSlices, 0);
  auto fetch = [&](int level, uint32_t first, uint32_t count) -> StatusOr<std::vector<uint64_t>> {
    uint64_t request_bytes = 0;
    StatusOr<const wire::Envelope*> reply =
        Call(peer, kTimeoutMs, [&](uint64_t id, FrameBuilder& fb) {
          auto& b = fb.Start();
          const wire::Version mark = wire::ToWire(node_.flush_mark.Get());
          auto req = wire::CreateDigestRequest(b, b.CreateString(self_id),
                                               static_cast<uint8_t>(level), first, count, &mark);
          std::span<const uint8_t> frame = fb.Finish(id, wire::Message::DigestRequest, req.Union());
          request_bytes = frame.size();
          return frame;
        });
    node_.anti_entropy.digest_requests.Inc();
    node_.anti_entropy.digest_bytes.Inc(request_bytes + (reply.ok() ? peer.last_frame_bytes() : 0));
    if (!reply.ok()) return reply.status();
    const wire::DigestResponse* r = (*reply)->message_as_DigestResponse();
    if (r == nullptr || r->hashes() == nullptr) {
      return Status::Corruption("unexpected reply to DigestRequest");
    }
    // FLUSHALL's marker travels with every summary exchange (docs/replication.md, "Flush").
    AdoptFlushMark(node_, wire::FromWire(r->flush_version()));
    std::vector<uint64_t> hashes(r->hashes()->begin(), r->hashes()->end());
    if (level == kSummaryLevels - 1) {
      for (size_t i = 0; i < hashes.size() && first + i < kSlices; ++i) {
        their_leaves[first + i] = hashes[i];
      }
    }
    return hashes;
  };
  uint64_t fetched = 0;
  StatusOr<std::vector<uint32_t>> differing = DifferingSlices(summary, fetch, &fetched);
  node_.anti_entropy.summary_nodes.Inc(fetched);
  if (!differing.ok()) return differing.status();

  // 2. Settled differences are not exchanged again while both digests stay the same.
  const std::vector<uint64_t>& my_leaves = summary.level(kSummaryLevels - 1);
  std::vector<uint32_t> todo;
  for (uint32_t s : *differing) {
    if (p.settled[s] && p.settled_local[s] == my_leaves[s] &&
        p.settled_peer[s] == their_leaves[s]) {
      continue;
    }
    todo.push_back(s);
  }

  size_t at = 0;
  while (at < todo.size()) {
    if (stopping()) return Status::Ok();
    const size_t n = std::min(todo.size() - at, p.batch_slices);
    const std::vector<uint32_t> batch(todo.begin() + static_cast<ptrdiff_t>(at),
                                      todo.begin() + static_cast<ptrdiff_t>(at + n));
    // 3. Key versions from both sides (each sorted by slice, then key).
    StatusOr<std::vector<Listed>> mine = KeyVersions(local, member.id, batch, kTimeoutMs);
    StatusOr<std::vector<Listed>> theirs = mine.ok() ? KeyVersions(peer, self_id, batch, kTimeoutMs)
                                                     : StatusOr<std::vector<Listed>>(mine.status());
    if (!theirs.ok()) {
      if (theirs.status().code() != Status::Code::kResourceExhausted) return theirs.status();
      if (n > 1) {
        p.batch_slices = n / 2;  // too many keys for one answer: retry in halves
      } else {
        // One slice's keys do not fit in a frame: it cannot be exchanged (counted, logged).
        node_.anti_entropy.errors.Inc();
        spdlog::warn("anti-entropy with {}: slice {}: {}", member.id, batch[0],
                     theirs.status().ToString());
        ++at;
      }
      continue;
    }
    at += n;
    const size_t listed = std::max(mine->size(), theirs->size());
    if (listed < kTargetKeysPerBatch / 2 && n == p.batch_slices) {
      p.batch_slices = std::min<size_t>(p.batch_slices * 2, kSlices);
    } else if (listed > kTargetKeysPerBatch && p.batch_slices > 1) {
      p.batch_slices /= 2;
    }
    node_.anti_entropy.slices_exchanged.Inc(batch.size());
    std::unordered_map<std::string_view, const Listed*> held;
    for (const Listed& t : *theirs) held.emplace(t.key, &t);
    // Whether every reply of this batch was an answer (an Error other than TooLarge, e.g. a
    // local NotReady during warm-up, leaves the batch unsettled: it is exchanged again).
    bool complete = true;
    std::vector<const Listed*> newer;    // the peer holds an older pair
    std::vector<const Listed*> missing;  // the peer holds nothing: ask it first
    for (const Listed& m : *mine) {
      auto it = held.find(m.key);
      if (it == held.end()) {
        missing.push_back(&m);
      } else if (m.Ahead(it->second->pair, it->second->body_digest)) {
        newer.push_back(&m);
      }
    }
    // 4a. A key the peer does not hold is offered only above its evicted-version floor.
    Status s = Pipeline(
        peer, missing.size(), kWindow, kTimeoutMs,
        [&](size_t i, uint64_t id, FrameBuilder& fb) {
          auto& b = fb.Start();
          auto get = wire::CreateGet(b, Bytes(b, missing[i]->key), /*want_value=*/false);
          return fb.Finish(id, wire::Message::Get, get.Union());
        },
        [&](size_t i, const wire::Envelope& reply) {
          const wire::GetResponse* r = reply.message_as_GetResponse();
          if (r == nullptr) {
            // A peer warming up after a restart (NotReady) started with an empty store and no
            // floor: offer it. Any other error: not offered this round.
            const wire::Error* err = reply.message_as_Error();
            if (err != nullptr && err->code() == wire::ErrorCode::NotReady) {
              newer.push_back(missing[i]);
            } else {
              complete = false;
            }
            return;
          }
          if (r->found()) {
            const Pair now{FromWire(r->version()), FromWire(r->expiry_version())};
            if (now < missing[i]->pair) newer.push_back(missing[i]);  // arrived meanwhile
            return;
          }
          const Pair floor{FromWire(r->floor_version()), FromWire(r->floor_expiry_version())};
          if (missing[i]->pair <= floor) {
            node_.anti_entropy.keys_skipped_floor.Inc();
            return;
          }
          newer.push_back(missing[i]);
        });
    if (!s.ok()) return s;

    // 4b. Read each state to push from the local node, whole, then put it on the peer.
    for (size_t from = 0; from < newer.size(); from += kWindow) {
      if (!Throttle()) return Status::Ok();
      const size_t n = std::min(kWindow, newer.size() - from);
      struct State {
        bool found = false;
        bool tombstone = false;
        std::string value;
        wire::ValueType value_type = wire::ValueType::String;
        wire::Version version, expiry_version;
        uint64_t expire_at_ms = 0;
      };
      std::vector<State> states(n);
      s = Pipeline(
          local, n, kWindow, kTimeoutMs,
          [&](size_t i, uint64_t id, FrameBuilder& fb) {
            auto& b = fb.Start();
            auto get = wire::CreateGet(b, Bytes(b, newer[from + i]->key), /*want_value=*/true);
            return fb.Finish(id, wire::Message::Get, get.Union());
          },
          [&](size_t i, const wire::Envelope& reply) {
            const wire::GetResponse* r = reply.message_as_GetResponse();
            if (r == nullptr) complete = false;
            if (r == nullptr || !r->found() || r->version() == nullptr) return;
            State& st = states[i];
            st.found = true;
            st.tombstone = r->tombstone();
            st.value.assign(AsView(r->value()));
            st.value_type = st.tombstone ? wire::ValueType::String : r->value_type();
            st.version = *r->version();
            st.expiry_version = r->expiry_version() != nullptr ? *r->expiry_version() : st.version;
            st.expire_at_ms = r->expire_at_ms();
          });
      if (!s.ok()) return s;
      s = Pipeline(
          peer, n, kWindow, kTimeoutMs,
          [&](size_t i, uint64_t id, FrameBuilder& fb) {
            const State& st = states[i];
            auto& b = fb.Start();
            if (!st.found) {  // gone locally meanwhile: ask for nothing useful (a cheap Get)
              auto get = wire::CreateGet(b, Bytes(b, newer[from + i]->key), false);
              return fb.Finish(id, wire::Message::Get, get.Union());
            }
            auto key = Bytes(b, newer[from + i]->key);
            flatbuffers::Offset<flatbuffers::Vector<uint8_t>> value = 0;
            if (!st.tombstone) value = Bytes(b, st.value);
            wire::PutBuilder put(b);
            put.add_key(key);
            if (!st.tombstone) put.add_value(value);
            put.add_version(&st.version);
            put.add_expiry_version(&st.expiry_version);
            put.add_expire_at_ms(st.tombstone ? 0 : st.expire_at_ms);
            put.add_tombstone(st.tombstone);
            put.add_value_type(st.value_type);
            return fb.Finish(id, wire::Message::Put, put.Finish().Union());
          },
          [&](size_t i, const wire::Envelope& reply) {
            const wire::PutResponse* r = reply.message_as_PutResponse();
            if (r == nullptr) {
              if (const wire::Error* err = reply.message_as_Error()) {
                // TooLarge: the peer holds smaller entries; that will not change.
                if (err->code() != wire::ErrorCode::TooLarge) complete = false;
                node_.anti_entropy.errors.Inc();
                spdlog::debug("anti-entropy put to {}: {}", member.id, client::DescribeError(*err));
              }
              return;
            }
            if (!r->applied()) return;
            const uint64_t bytes = newer[from + i]->key.size() + states[i].value.size();
            round_bytes_ += bytes;
            node_.anti_entropy.keys_repaired.Inc();
            node_.anti_entropy.bytes_repaired.Inc(bytes);
          });
      if (!s.ok()) return s;
    }
    // The exchange of these slices is complete: remember their digests as settled.
    if (!complete) continue;
    for (uint32_t slice : batch) {
      p.settled[slice] = true;
      p.settled_local[slice] = my_leaves[slice];
      p.settled_peer[slice] = their_leaves[slice];
    }
  }
  return Status::Ok();
}

}  // namespace shoal::node
