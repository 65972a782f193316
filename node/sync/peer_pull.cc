#include "node/sync/peer_pull.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/wire/frame.h"
#include "common/wire/version_wire.h"
#include "node/server/peer_requests.h"

namespace shoal::node {

namespace {

// In flight on one connection while fetching and writing states.
constexpr size_t kWindow = 128;

StatusOr<std::vector<uint64_t>> FetchSummary(const PullTarget& t, int level, uint32_t first,
                                             uint32_t count) {
  client::NodeClient& peer = *t.peer;
  auto env = Call(peer, t.timeout_ms, [&](uint64_t id, FrameBuilder& fb) {
    auto& b = fb.Start();
    const wire::Version mark = wire::ToWire(t.flush_mark);
    auto req = wire::CreateDigestRequest(b, b.CreateString(t.self_id), static_cast<uint8_t>(level),
                                         first, count, &mark, t.ring);
    return fb.Finish(id, wire::Message::DigestRequest, req.Union());
  });
  if (!env.ok()) return env.status();
  const auto* resp = (*env)->message_as_DigestResponse();
  if (resp == nullptr || resp->hashes() == nullptr) {
    return Status::Corruption("unexpected answer to DigestRequest");
  }
  if (t.adopt_flush_mark && resp->flush_version() != nullptr) {
    t.adopt_flush_mark(wire::FromWire(*resp->flush_version()));
  }
  return std::vector<uint64_t>(resp->hashes()->begin(), resp->hashes()->end());
}

}  // namespace

Status FetchKeyStates(client::NodeClient& peer, const std::vector<std::string>& keys,
                      int timeout_ms, std::vector<PulledState>* out) {
  Status failure = Status::Ok();
  Status s = Pipeline(
      peer, keys.size(), kWindow, timeout_ms,
      [&](size_t i, uint64_t id, FrameBuilder& fb) {
        auto& b = fb.Start();
        auto get = wire::CreateGet(b, Bytes(b, keys[i]), true);
        return fb.Finish(id, wire::Message::Get, get.Union());
      },
      [&](size_t i, const wire::Envelope& env) {
        if (const auto* e = env.message_as_Error()) {
          if (failure.ok()) failure = Status::Unavailable("Get: " + client::DescribeError(*e));
          return;
        }
        const auto* r = env.message_as_GetResponse();
        if (r == nullptr) {
          if (failure.ok()) failure = Status::Corruption("unexpected answer to Get");
          return;
        }
        if (!r->found()) return;  // gone since it was listed (purged or evicted)
        PulledState p;
        p.key = keys[i];
        p.tombstone = r->tombstone();
        if (!p.tombstone && r->value() != nullptr) p.value = std::string(AsView(r->value()));
        p.version = FromWire(r->version());
        p.expiry_version = FromWire(r->expiry_version());
        if (p.expiry_version.IsZero()) p.expiry_version = p.version;
        p.expire_at_ms = p.tombstone ? 0 : r->expire_at_ms();
        p.value_type = p.tombstone ? wire::ValueType::String : r->value_type();
        out->push_back(std::move(p));
      });
  return s.ok() ? failure : s;
}

Status WriteKeyStates(client::NodeClient& self, const std::vector<PulledState>& states,
                      int timeout_ms, PullCounters* counters) {
  Status failure = Status::Ok();
  Status s = Pipeline(
      self, states.size(), kWindow, timeout_ms,
      [&](size_t i, uint64_t id, FrameBuilder& fb) {
        const PulledState& p = states[i];
        auto& b = fb.Start();
        const auto key = Bytes(b, p.key);
        const auto value = Bytes(b, p.value);
        const wire::Version version(p.version.hlc, p.version.writer);
        const wire::Version expiry_version(p.expiry_version.hlc, p.expiry_version.writer);
        wire::PutBuilder put(b);
        put.add_key(key);
        put.add_value(value);
        put.add_version(&version);
        put.add_expiry_version(&expiry_version);
        put.add_expire_at_ms(p.expire_at_ms);
        put.add_tombstone(p.tombstone);
        put.add_value_type(p.value_type);
        const auto msg = put.Finish();
        return fb.Finish(id, wire::Message::Put, msg.Union());
      },
      [&](size_t i, const wire::Envelope& env) {
        if (const auto* e = env.message_as_Error()) {
          if (failure.ok()) {
            failure = Status::FailedPrecondition("Put: " + client::DescribeError(*e));
          }
          return;
        }
        const auto* r = env.message_as_PutResponse();
        if (r == nullptr) {
          if (failure.ok()) failure = Status::Corruption("unexpected answer to Put");
          return;
        }
        counters->bytes_moved += states[i].key.size() + states[i].value.size();
        if (r->applied()) {
          ++counters->keys_pulled;
          counters->bytes_pulled += states[i].key.size() + states[i].value.size();
        } else {
          ++counters->keys_stale;
        }
      });
  return s.ok() ? failure : s;
}

namespace {

// PullFromPeer (push false) and PushToPeer (push true): the source's states newer than the sink's.
Status Exchange(const PullTarget& t, const MerkleSummary& local, bool push, PullCounters* counters,
                const PullProgress& progress) {
  auto fetch = [&](int level, uint32_t first, uint32_t count) {
    return FetchSummary(t, level, first, count);
  };
  auto slices = DifferingSlices(local, fetch, &counters->summary_nodes);
  if (!slices.ok()) return slices.status();
  counters->differing_slices += slices->size();
  client::NodeClient& source = push ? *t.self : *t.peer;
  client::NodeClient& sink = push ? *t.peer : *t.self;

  uint32_t batch = std::max<uint32_t>(t.slices_per_batch, 1);
  size_t next = 0;
  while (next < slices->size()) {
    const size_t n = std::min<size_t>(batch, slices->size() - next);
    const std::span<const uint32_t> part(slices->data() + next, n);
    auto remote = KeyVersions(*t.peer, t.self_id, part, t.timeout_ms, t.ring);
    StatusOr<std::vector<Listed>> mine =
        remote.ok() ? KeyVersions(*t.self, t.peer_id, part, t.timeout_ms, t.ring)
                    : StatusOr<std::vector<Listed>>(remote.status());
    if (!remote.ok() || !mine.ok()) {
      const Status& s = !remote.ok() ? remote.status() : mine.status();
      if (s.code() == Status::Code::kResourceExhausted && n > 1) {
        batch = static_cast<uint32_t>(std::max<size_t>(n / 2, 1));  // too large: ask for less
        continue;
      }
      return s;
    }
    const std::vector<Listed>& from = push ? *mine : *remote;
    const std::vector<Listed>& to = push ? *remote : *mine;
    std::unordered_map<std::string_view, const Listed*> held;
    held.reserve(to.size());
    for (const Listed& m : to) held.emplace(m.key, &m);
    std::vector<std::string> wanted;
    for (const Listed& r : from) {
      ++counters->keys_compared;
      auto it = held.find(r.key);
      if (it == held.end() || r.Ahead(it->second->pair, it->second->body_digest)) {
        wanted.push_back(r.key);
      }
    }
    for (size_t i = 0; i < wanted.size(); i += t.keys_per_batch) {
      const size_t end = std::min<size_t>(wanted.size(), i + t.keys_per_batch);
      std::vector<std::string> keys(wanted.begin() + static_cast<std::ptrdiff_t>(i),
                                    wanted.begin() + static_cast<std::ptrdiff_t>(end));
      std::vector<PulledState> states;
      if (Status s = FetchKeyStates(source, keys, t.timeout_ms, &states); !s.ok()) return s;
      if (Status s = WriteKeyStates(sink, states, t.timeout_ms, counters); !s.ok()) return s;
      if (progress && !progress(*counters)) return Status::Unavailable("stopped");
    }
    next += n;
    if (progress && !progress(*counters)) return Status::Unavailable("stopped");
  }
  return Status::Ok();
}

}  // namespace

Status PullFromPeer(const PullTarget& t, const MerkleSummary& local, PullCounters* counters,
                    const PullProgress& progress) {
  return Exchange(t, local, /*push=*/false, counters, progress);
}

Status PushToPeer(const PullTarget& t, const MerkleSummary& local, PullCounters* counters,
                  const PullProgress& progress) {
  return Exchange(t, local, /*push=*/true, counters, progress);
}

}  // namespace shoal::node
