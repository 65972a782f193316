#include "node/sync/peer_pull.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/wire/frame.h"

namespace shoal::node {

namespace {

Version FromWire(const wire::Version* v) {
  return v == nullptr ? Version{} : Version{v->hlc(), v->writer()};
}

// A key's state as a KeyVersions list or a Get shows it.
struct Held {
  Version version;
  Version expiry_version;
  bool tombstone = false;
};

bool Newer(const Held& a, const Held& b) {
  if (a.version != b.version) return a.version > b.version;
  return a.expiry_version > b.expiry_version;
}

// Sends one request frame and waits for its answer; an Error answer becomes a Status (TooLarge
// as ResourceExhausted, so that the caller can ask for less).
StatusOr<const wire::Envelope*> Call(client::NodeClient& c, uint64_t id,
                                     std::span<const uint8_t> frame, int timeout_ms,
                                     const char* what) {
  if (Status s = c.Send(frame, timeout_ms); !s.ok()) return s;
  auto env = c.Await(id, timeout_ms);
  if (!env.ok()) return env.status();
  if (const auto* e = (*env)->message_as_Error()) {
    const std::string message = std::string(what) + ": " + client::DescribeError(*e);
    if (e->code() == wire::ErrorCode::TooLarge) return Status::ResourceExhausted(message);
    if (e->code() == wire::ErrorCode::NotReady) return Status::Unavailable(message);
    return Status::FailedPrecondition(message);
  }
  return env;
}

StatusOr<std::vector<uint64_t>> FetchSummary(client::NodeClient& peer, const std::string& self_id,
                                             int level, uint32_t first, uint32_t count,
                                             int timeout_ms) {
  FrameBuilder& fb = peer.builder();
  auto& b = fb.Start();
  auto req = wire::CreateDigestRequest(b, b.CreateString(self_id), static_cast<uint8_t>(level),
                                       first, count);
  const uint64_t id = peer.NextRequestId();
  auto env = Call(peer, id, fb.Finish(id, wire::Message::DigestRequest, req.Union()), timeout_ms,
                  "DigestRequest");
  if (!env.ok()) return env.status();
  const auto* resp = (*env)->message_as_DigestResponse();
  if (resp == nullptr || resp->hashes() == nullptr) {
    return Status::Corruption("unexpected answer to DigestRequest");
  }
  return std::vector<uint64_t>(resp->hashes()->begin(), resp->hashes()->end());
}

// The keys `node` lists in `slices` for `asking_id`, with their states (key order as sent).
StatusOr<std::vector<std::pair<std::string, Held>>> FetchKeyVersions(
    client::NodeClient& node, const std::string& asking_id, std::span<const uint32_t> slices,
    int timeout_ms) {
  FrameBuilder& fb = node.builder();
  auto& b = fb.Start();
  auto list = b.CreateVector(slices.data(), slices.size());
  auto req = wire::CreateKeyVersionsRequest(b, b.CreateString(asking_id), list);
  const uint64_t id = node.NextRequestId();
  auto env = Call(node, id, fb.Finish(id, wire::Message::KeyVersionsRequest, req.Union()),
                  timeout_ms, "KeyVersionsRequest");
  if (!env.ok()) return env.status();
  const auto* resp = (*env)->message_as_KeyVersionsResponse();
  if (resp == nullptr) return Status::Corruption("unexpected answer to KeyVersionsRequest");
  std::vector<std::pair<std::string, Held>> out;
  if (resp->entries() == nullptr) return out;
  out.reserve(resp->entries()->size());
  for (const wire::KeyVersion* kv : *resp->entries()) {
    if (kv->key() == nullptr) continue;
    out.emplace_back(
        std::string(AsView(kv->key())),
        Held{FromWire(kv->version()), FromWire(kv->expiry_version()), kv->tombstone()});
  }
  return out;
}

// One state to write here.
struct Pulled {
  std::string key;
  std::string value;
  Version version;
  Version expiry_version;
  uint64_t expire_at_ms = 0;
  bool tombstone = false;
};

// Gets `keys` from the peer (pipelined), keeping those it still holds.
Status FetchStates(client::NodeClient& peer, const std::vector<std::string>& keys, int timeout_ms,
                   std::vector<Pulled>* out) {
  FrameBuilder& fb = peer.builder();
  std::unordered_map<uint64_t, size_t> index;  // request id -> key
  for (size_t i = 0; i < keys.size(); ++i) {
    auto& b = fb.Start();
    auto get = wire::CreateGet(b, Bytes(b, keys[i]), true);
    const uint64_t id = peer.NextRequestId();
    index[id] = i;
    if (Status s = peer.Send(fb.Finish(id, wire::Message::Get, get.Union()), timeout_ms); !s.ok())
      return s;
  }
  while (!index.empty()) {
    auto env = peer.Receive(timeout_ms);
    if (!env.ok()) return env.status();
    auto it = index.find((*env)->request_id());
    if (it == index.end()) continue;
    const std::string& key = keys[it->second];
    index.erase(it);
    if (const auto* e = (*env)->message_as_Error()) {
      const std::string message = "Get: " + client::DescribeError(*e);
      if (e->code() == wire::ErrorCode::NotReady) return Status::Unavailable(message);
      return Status::FailedPrecondition(message);
    }
    const auto* r = (*env)->message_as_GetResponse();
    if (r == nullptr) return Status::Corruption("unexpected answer to Get");
    if (!r->found()) continue;  // gone since it was listed (purged or evicted)
    Pulled p;
    p.key = key;
    p.tombstone = r->tombstone();
    if (!p.tombstone && r->value() != nullptr) p.value = std::string(AsView(r->value()));
    p.version = FromWire(r->version());
    p.expiry_version = FromWire(r->expiry_version());
    if (p.expiry_version.IsZero()) p.expiry_version = p.version;
    p.expire_at_ms = p.tombstone ? 0 : r->expire_at_ms();
    out->push_back(std::move(p));
  }
  return Status::Ok();
}

// Writes `states` to this node (pipelined). Counts applied and stale ones.
Status WriteStates(client::NodeClient& self, const std::vector<Pulled>& states, int timeout_ms,
                   PullCounters* counters) {
  FrameBuilder& fb = self.builder();
  std::unordered_map<uint64_t, size_t> index;
  for (size_t i = 0; i < states.size(); ++i) {
    const Pulled& p = states[i];
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
    const auto msg = put.Finish();
    const uint64_t id = self.NextRequestId();
    index[id] = i;
    if (Status s = self.Send(fb.Finish(id, wire::Message::Put, msg.Union()), timeout_ms); !s.ok())
      return s;
  }
  while (!index.empty()) {
    auto env = self.Receive(timeout_ms);
    if (!env.ok()) return env.status();
    auto it = index.find((*env)->request_id());
    if (it == index.end()) continue;
    const Pulled& p = states[it->second];
    index.erase(it);
    if (const auto* e = (*env)->message_as_Error()) {
      return Status::FailedPrecondition("Put to this node: " + client::DescribeError(*e));
    }
    const auto* r = (*env)->message_as_PutResponse();
    if (r == nullptr) return Status::Corruption("unexpected answer to Put");
    if (r->applied()) {
      ++counters->keys_pulled;
      counters->bytes_pulled += p.key.size() + p.value.size();
    } else {
      ++counters->keys_stale;
    }
  }
  return Status::Ok();
}

}  // namespace

Status PullFromPeer(const PullTarget& t, const MerkleSummary& local, PullCounters* counters,
                    const std::function<void(const PullCounters&)>& progress) {
  auto fetch = [&](int level, uint32_t first, uint32_t count) {
    return FetchSummary(*t.peer, t.self_id, level, first, count, t.timeout_ms);
  };
  auto slices = DifferingSlices(local, fetch, &counters->summary_nodes);
  if (!slices.ok()) return slices.status();
  counters->differing_slices += slices->size();

  uint32_t batch = std::max<uint32_t>(t.slices_per_batch, 1);
  size_t next = 0;
  while (next < slices->size()) {
    const size_t n = std::min<size_t>(batch, slices->size() - next);
    const std::span<const uint32_t> part(slices->data() + next, n);
    auto remote = FetchKeyVersions(*t.peer, t.self_id, part, t.timeout_ms);
    StatusOr<std::vector<std::pair<std::string, Held>>> mine =
        remote.ok() ? FetchKeyVersions(*t.self, t.peer_id, part, t.timeout_ms)
                    : StatusOr<std::vector<std::pair<std::string, Held>>>(remote.status());
    if (!remote.ok() || !mine.ok()) {
      const Status& s = !remote.ok() ? remote.status() : mine.status();
      if (s.code() == Status::Code::kResourceExhausted && n > 1) {
        batch = static_cast<uint32_t>(std::max<size_t>(n / 2, 1));  // too large: ask for less
        continue;
      }
      return s;
    }
    std::unordered_map<std::string_view, Held> held;
    held.reserve(mine->size());
    for (const auto& [key, state] : *mine) held.emplace(key, state);
    std::vector<std::string> wanted;
    for (const auto& [key, state] : *remote) {
      ++counters->keys_compared;
      auto it = held.find(key);
      if (it == held.end() || Newer(state, it->second)) wanted.push_back(key);
    }
    for (size_t i = 0; i < wanted.size(); i += t.keys_per_batch) {
      const size_t end = std::min<size_t>(wanted.size(), i + t.keys_per_batch);
      std::vector<std::string> keys(wanted.begin() + static_cast<std::ptrdiff_t>(i),
                                    wanted.begin() + static_cast<std::ptrdiff_t>(end));
      std::vector<Pulled> states;
      if (Status s = FetchStates(*t.peer, keys, t.timeout_ms, &states); !s.ok()) return s;
      if (Status s = WriteStates(*t.self, states, t.timeout_ms, counters); !s.ok()) return s;
    }
    next += n;
    if (progress) progress(*counters);
  }
  return Status::Ok();
}

}  // namespace shoal::node
