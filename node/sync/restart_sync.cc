#include "node/sync/restart_sync.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

#include "common/client/node_client.h"
#include "node/server/anti_entropy_handlers.h"
#include "node/server/node_flush.h"
#include "node/sync/peer_pull.h"

namespace shoal::node {

namespace {

constexpr int64_t kRetryMs = 500;
constexpr int kRequestTimeoutMs = 5000;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

StatusOr<std::unique_ptr<client::NodeClient>> Open(NodeContext& node, const HostPort& address) {
  auto c = client::NodeClient::Connect(address, kRequestTimeoutMs);
  if (!c.ok()) return c.status();
  auto hello = (*c)->Hello(node.config.cluster, node.config.id, node.config.cluster_secret,
                           kRequestTimeoutMs, wire::PeerRole::Node, node.flush_mark.Get());
  if (!hello.ok()) return hello.status();
  AdoptFlushMark(node, hello->flush_version);  // docs/replication.md, "Flush"
  return std::move(*c);
}

}  // namespace

RestartSync::RestartSync(NodeContext& node, HostPort self, int64_t timeout_ms)
    : node_(node),
      members_(node.members->Current()),
      self_(std::move(self)),
      timeout_ms_(timeout_ms) {
  if (self_.host.empty() || self_.host == "0.0.0.0" || self_.host == "::") {
    self_.host = "127.0.0.1";
  }
  node_.sync.peers.Set(static_cast<int64_t>(members_->ring->members().size()) - 1);
  node_.sync_state.store(static_cast<int>(SyncState::kSyncing), std::memory_order_release);
}

RestartSync::~RestartSync() {
  RequestStop();
  Join();
}

void RestartSync::Start(uint16_t port) {
  self_.port = port;
  thread_ = std::thread([this] { Run(); });
}

void RestartSync::RequestStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_relaxed);
  }
  cv_.notify_all();
}

void RestartSync::Join() {
  if (thread_.joinable()) thread_.join();
}

void RestartSync::Sleep(int64_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms),
               [this] { return stop_.load(std::memory_order_relaxed); });
}

bool RestartSync::SyncWith(const RingMember& member) {
  auto address = ParseHostPort(member.address);
  if (!address.ok()) return false;  // validated by Ring::Build: cannot happen
  auto remote = Open(node_, *address);
  if (!remote.ok()) {
    if (remote.status().code() == Status::Code::kIOError) {
      // Nothing listens there (refused, unreachable): the peer's process is not running, and a
      // store is memory only, so it holds nothing to pull (it syncs itself when it starts).
      spdlog::info("sync: {} is not running ({}); nothing to pull from it", member.id,
                   remote.status().message());
      node_.sync.peers_down.Add(1);
      return true;
    }
    spdlog::debug("sync: {} not answering yet: {}", member.id, remote.status().message());
    return false;
  }
  auto self = Open(node_, self_);
  if (!self.ok()) {
    spdlog::warn("sync: cannot reach this node at {}: {}", self_.ToString(),
                 self.status().message());
    return false;
  }
  PullTarget target;
  target.peer = remote->get();
  target.self = self->get();
  target.self_id = node_.config.id;
  target.flush_mark = node_.flush_mark.Get();
  target.adopt_flush_mark = [this](Version marker) { AdoptFlushMark(node_, marker); };
  target.peer_id = member.id;
  target.timeout_ms = kRequestTimeoutMs;
  PullCounters counters;
  uint64_t keys_before = 0, bytes_before = 0;
  const Status s =
      PullFromPeer(target, NodeSummary(node_, member.id), &counters, [&](const PullCounters& c) {
        node_.sync.keys.Inc(c.keys_pulled - keys_before);
        node_.sync.bytes.Inc(c.bytes_pulled - bytes_before);
        keys_before = c.keys_pulled;
        bytes_before = c.bytes_pulled;
        return true;
      });
  node_.sync.keys.Inc(counters.keys_pulled - keys_before);
  node_.sync.bytes.Inc(counters.bytes_pulled - bytes_before);
  if (!s.ok()) {
    spdlog::info("sync: pulling from {} stopped ({} keys so far): {}", member.id,
                 counters.keys_pulled, s.message());
    return false;
  }
  spdlog::info(
      "sync: pulled from {}: {} differing slices, {} keys compared, {} keys ({} bytes) written, "
      "{} refused as stale",
      member.id, counters.differing_slices, counters.keys_compared, counters.keys_pulled,
      counters.bytes_pulled, counters.keys_stale);
  return true;
}

void RestartSync::Run() {
  const int64_t deadline = SteadyMs() + timeout_ms_;
  std::vector<const RingMember*> pending;
  const auto& members = members_->ring->members();
  for (int i = 0; i < static_cast<int>(members.size()); ++i) {
    if (i != members_->self) pending.push_back(&members[i]);
  }
  spdlog::info("sync: pulling from {} peers before answering reads (--sync-timeout-ms {})",
               pending.size(), timeout_ms_);
  while (!pending.empty() && !stop_.load(std::memory_order_relaxed)) {
    std::vector<const RingMember*> still;
    for (const RingMember* peer : pending) {
      if (stop_.load(std::memory_order_relaxed)) return;
      if (SyncWith(*peer)) {
        node_.sync.peers_done.Add(1);
      } else {
        still.push_back(peer);
      }
    }
    pending.swap(still);
    if (pending.empty() || SteadyMs() >= deadline) break;
    Sleep(kRetryMs);
  }
  if (stop_.load(std::memory_order_relaxed)) return;
  if (pending.empty()) {
    node_.sync_state.store(static_cast<int>(SyncState::kDone), std::memory_order_release);
    spdlog::info("sync: done ({} keys, {} bytes); answering reads", node_.sync.keys.Value(),
                 node_.sync.bytes.Value());
  } else {
    std::string missing;
    for (const RingMember* peer : pending) missing += (missing.empty() ? "" : ", ") + peer->id;
    node_.sync_state.store(static_cast<int>(SyncState::kPartial), std::memory_order_release);
    spdlog::warn(
        "sync: gave up after --sync-timeout-ms {} on peers {} (unreachable or failing); "
        "answering reads with what was pulled ({} keys)",
        timeout_ms_, missing, node_.sync.keys.Value());
  }
}

}  // namespace shoal::node
