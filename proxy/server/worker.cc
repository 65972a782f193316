#include "proxy/server/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cassert>

#include "common/hash/key_hash.h"
#include "proxy/server/client_connection.h"
#include "proxy/upstream/key_messages.h"

namespace shoal::proxy {

namespace {

constexpr suseconds_t kAcceptPauseMs = 100;
constexpr size_t kKeepBufferBytes = 16 << 10;
// Idle per-key operation records kept for reuse; more are freed when they finish.
constexpr size_t kMaxIdleOps = 4096;
// Key bytes remembered for read-repair deduplication before the map is pruned.
constexpr size_t kMaxRecentRepairBytes = 4 << 20;

constexpr int kPlaceholderRequestId = 1;  // patched per link (see NodeLink::Send)
// The tag of a write copied to a JOINING owner: never a machine's tag, so its answer is dropped.
constexpr uint8_t kUncountedTag = 0xFF;
static_assert(kUncountedTag >= KeyOperation::kMaxTags);

std::string PeerName(const sockaddr_storage& addr) {
  char host[64] = "?";
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unix";
}

}  // namespace

Worker::Worker(int index, SharedState& shared, std::vector<int> listen_fds)
    : index_(index),
      shared_(shared),
      listen_fds_(std::move(listen_fds)),
      stats_(*shared.worker_stats[index]),
      request_metrics_(shared.metrics) {}

Worker::~Worker() {
  // Clients and links free their events before the base goes.
  clients_.clear();
  links_.clear();
  accept_events_.clear();
  flush_event_.reset();
  tick_event_.reset();
  stop_event_.reset();
  ready_timer_.reset();
  accept_resume_timer_.reset();
}

void Worker::Start() {
  SetUpLoop();
  thread_ = std::thread([this] { Run(); });
}

void Worker::Stop() {
  if (stop_event_) event_active(stop_event_.get(), EV_TIMEOUT, 0);
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::SetUpLoop() {
  base_.reset(event_base_new());
  // One priority for every event (libevent never runs a lower priority while a higher one is
  // active, so priorities would let busy sockets starve the rest). The flush still runs after
  // the I/O of its iteration: it is activated during that I/O's callbacks and so queued behind
  // every event the poll reported.
  flush_event_.reset(event_new(base_.get(), -1, 0, &Worker::OnFlushEvent, this));
  stop_event_.reset(event_new(base_.get(), -1, 0, &Worker::OnStopEvent, this));
  event_add(stop_event_.get(), nullptr);  // pending forever; activated by Stop()
  tick_event_.reset(event_new(base_.get(), -1, EV_PERSIST, &Worker::OnTickEvent, this));
  const int64_t tick_ms = std::clamp<int64_t>(shared_.config.timeout_ms / 10, 1, 50);
  timeval tick{0, static_cast<suseconds_t>(tick_ms * 1000)};
  event_add(tick_event_.get(), &tick);

  link_options_.cluster = shared_.config.cluster;
  link_options_.sender_id = shared_.config.id;
  link_options_.cluster_secret = shared_.config.cluster_secret;
  link_options_.timeout_ms = shared_.config.timeout_ms;
  link_options_.down_after_timeouts = shared_.config.down_after_timeouts;
  link_options_.known_flush = &shared_.known_flush;
  view_ = shared_.directory.view();
  AddLinks();

  // Accept clients once every link settled, or after the timeout whatever happens.
  accept_resume_timer_.reset(event_new(base_.get(), -1, 0, &Worker::OnAcceptResume, this));
  ready_timer_.reset(event_new(base_.get(), -1, 0, &Worker::OnReadyTimeout, this));
  const int64_t wait_ms = shared_.config.timeout_ms + 100;
  timeval tv{static_cast<time_t>(wait_ms / 1000),
             static_cast<suseconds_t>((wait_ms % 1000) * 1000)};
  event_add(ready_timer_.get(), &tv);
}

void Worker::Run() {
  event_base_dispatch(base_.get());
  // Close clients while the loop's events are still valid.
  clients_.clear();
}

void Worker::EnableAccept() {
  if (ready_.load(std::memory_order_relaxed)) return;
  if (ready_timer_) event_del(ready_timer_.get());
  for (int fd : listen_fds_) {
    accept_events_.emplace_back(
        event_new(base_.get(), fd, EV_READ | EV_PERSIST, &Worker::OnAcceptEvent, this),
        &event_free);
    event_add(accept_events_.back().get(), nullptr);
  }
  ready_.store(true, std::memory_order_release);
}

void Worker::OnNodeSettled(int slot, bool up) {
  if (unsettled_links_ > 0 && --unsettled_links_ == 0) EnableAccept();
}

void Worker::AddLinks() {
  const int slots = shared_.directory.slot_count();
  while (static_cast<int>(links_.size()) < slots) {
    const int s = static_cast<int>(links_.size());
    const MemberSlot& slot = shared_.directory.slot(s);
    auto hp = ParseHostPort(slot.address);  // validated by ProxyConfig::Finish / the follower
    if (!hp.ok()) hp = HostPort{"invalid", 0};
    AttachUpstreamStats(shared_.metrics, stats_, slot.id);
    links_.push_back(std::make_unique<NodeLink>(base_.get(), s, slot.id, *hp, link_options_,
                                                shared_.directory.health(s), shared_.hlc, *this,
                                                stats_.upstream[s]->refusals));
    // One worker's link judges each node's phi (node_link.h, "Suspicion"): slots spread over
    // the workers.
    const LinkDetectorOptions& detector = shared_.config.link_detector;
    if (detector.threshold > 0 && s % shared_.config.threads == index_) {
      links_.back()->JudgeNode(detector, shared_.clock);
    }
    if (!ready_.load(std::memory_order_relaxed)) ++unsettled_links_;
    links_.back()->Start();
  }
}

void Worker::RefreshView() {
  if (shared_.directory.generation() == view_->generation) return;
  view_ = shared_.directory.view();
  AddLinks();
}

void Worker::OnAccept(int listen_fd) {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    const int fd =
        accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: the pending connection stays queued and the listener
        // would fire again at once. Stop accepting for a while and let clients leave.
        PauseAccepting(strerror(errno));
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                 errno != ECONNABORTED) {
        spdlog::warn("accept: {}", strerror(errno));
      }
      return;
    }
    if (addr.ss_family != AF_UNIX) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    const uint64_t id = shared_.next_client_id.fetch_add(1, std::memory_order_relaxed);
    auto conn = std::make_unique<ClientConnection>(*this, fd, id, PeerName(addr));
    ClientConnection* raw = conn.get();
    clients_.emplace(raw, std::move(conn));
    stats_.connections_received.Inc();
    stats_.connected_clients.Set(static_cast<int64_t>(clients_.size()));
    raw->Start();
  }
}

void Worker::PauseAccepting(const char* reason) {
  for (auto& ev : accept_events_) event_del(ev.get());
  stats_.accept_pauses.Inc();
  const int64_t now = shared_.clock.MonotonicMs();
  if (now - last_accept_warning_ms_ >= 10'000) {  // at most one warning per 10 s
    last_accept_warning_ms_ = now;
    spdlog::warn("accept: {}; pausing accepts for {} ms at a time", reason, kAcceptPauseMs);
  }
  timeval tv{0, kAcceptPauseMs * 1000};
  event_add(accept_resume_timer_.get(), &tv);
}

void Worker::OnAcceptResume(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  for (auto& ev : self->accept_events_) event_add(ev.get(), nullptr);
}

// ---- key operations ---------------------------------------------------------------------------

KeyOp* Worker::AcquireOp() {
  KeyOp* op;
  if (!free_ops_.empty()) {
    op = free_ops_.back();
    free_ops_.pop_back();
  } else {
    uint32_t index;
    if (!empty_op_slots_.empty()) {
      index = empty_op_slots_.back();
      empty_op_slots_.pop_back();
    } else {
      index = static_cast<uint32_t>(op_slots_.size());
      op_slots_.emplace_back();
    }
    OpSlot& slot = op_slots_[index];
    slot.op = std::make_unique<KeyOp>();
    slot.op->index = index;
    slot.op->generation = slot.next_generation;  // never reuse a generation of this slot
    op = slot.op.get();
  }
  op->in_use = true;
  return op;
}

KeyOp* Worker::LiveOp(uint32_t index, uint32_t generation) {
  if (index >= op_slots_.size()) return nullptr;
  KeyOp* op = op_slots_[index].op.get();
  if (op == nullptr || !op->in_use || op->generation != generation) return nullptr;
  return op;
}

KeyOp* Worker::FindOp(const PendingRef& ref) {
  KeyOp* op = LiveOp(ref.owner, ref.generation);
  return op != nullptr && ref.slot < KeyOperation::kMaxTags && ((op->pending >> ref.slot) & 1)
             ? op
             : nullptr;
}

void Worker::StartKeyOp(ClientConnection& client, ReplySlot& slot, uint32_t key_index,
                        std::string_view key, Consistency level, KeyPlan plan) {
  KeyOp& op = *AcquireOp();
  op.decided = false;
  op.client = &client;
  op.slot = &slot;
  op.key_index = key_index;
  op.key.assign(key.data(), key.size());
  op.node_error.clear();
  op.pending = 0;
  op.charged = 0;
  // A write that may be hinted also lists the members past its preference list: the healthy
  // ones are its fallbacks (KeyPlan::fallbacks), in ring order, after the owners in op.members.
  const int replicas = static_cast<int>(shared_.config.replicas);
  const bool hintable = shared_.settings.hinted_handoff() &&
                        (plan.mode == KeyMode::kWrite ||
                         (plan.mode == KeyMode::kReadThenWrite && !plan.write_is_touch));
  // op.members holds slots (cluster_view.h), not ring indices: the op stays valid if a new view
  // is taken before it ends.
  RefreshView();
  const int listed = view_->ring->PreferenceList(
      KeyHash(key), hintable ? Ring::kMaxReplicas : replicas, op.members);
  for (int i = 0; i < listed; ++i) op.members[i] = view_->slot_of[op.members[i]];
  op.n = std::min(listed, replicas);
  int fallbacks = 0;
  for (int i = op.n; i < listed; ++i) {
    const int member = op.members[i];
    if (shared_.directory.health(member).Skipped()) continue;
    op.members[op.n + fallbacks++] = member;
  }
  // A member JOINING gets the writes of the ranges it gains at once (its reads come later).
  op.joining_count = 0;
  if (view_->pending_ring != nullptr && plan.mode != KeyMode::kRead) {
    int pending[Ring::kMaxReplicas];
    const int count = view_->pending_ring->PreferenceList(KeyHash(key), replicas, pending);
    for (int i = 0; i < count; ++i) {
      const int member = view_->pending_slot_of[pending[i]];
      if (std::find(op.members, op.members + op.n, member) == op.members + op.n) {
        op.joining[op.joining_count++] = member;
      }
    }
  }
  plan.n = op.n;
  plan.fallbacks = fallbacks;
  plan.required = RequiredReplicas(level, static_cast<int>(shared_.config.replicas));
  plan.value_replica = static_cast<int>(value_rotation_++ % Ring::kMaxReplicas);
  op.machine.Start(plan, shared_.hlc, shared_.config.writer_id, NowMs());
  op.deadline_ms = MonotonicMs() + shared_.settings.timeout_ms();
  LinkDeadline(op);
  Advance(op);
}

uint64_t Worker::CounterWriter(uint64_t client_id) const {
  uint64_t x = shared_.config.writer_id ^ (client_id * 0x9E3779B97F4A7C15ull);
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x == 0 ? 1 : x;
}

uint64_t Worker::SmallestNodeFrameLimit() const {
  uint64_t limit = UINT64_MAX;
  for (int slot : view_->slot_of) {
    const uint32_t advertised =
        shared_.directory.health(slot).max_request_frame.load(std::memory_order_relaxed);
    if (advertised != 0) limit = std::min<uint64_t>(limit, advertised);
  }
  return limit;
}

void Worker::LinkDeadline(KeyOp& op) {
  op.prev = deadline_tail_;
  op.next = nullptr;
  if (deadline_tail_ != nullptr)
    deadline_tail_->next = &op;
  else
    deadline_head_ = &op;
  deadline_tail_ = &op;
}

void Worker::UnlinkDeadline(KeyOp& op) {
  if (op.prev != nullptr)
    op.prev->next = op.next;
  else
    deadline_head_ = op.next;
  if (op.next != nullptr)
    op.next->prev = op.prev;
  else
    deadline_tail_ = op.prev;
  op.prev = op.next = nullptr;
}

bool Worker::Advance(KeyOp& op) {
  bool sent = false;
  while (!op.machine.requests().empty()) {
    NodeRequest batch[KeyOperation::kMaxBatch];
    const auto requests = op.machine.requests();
    const size_t count = std::min(requests.size(), std::size(batch));
    std::copy_n(requests.begin(), count, batch);
    op.machine.ClearRequests();
    SendRequests(op, {batch, count});
    sent = true;
  }
  if (sent && op.pending != 0) {
    // A new phase: its requests get the whole timeout (the list stays in deadline order).
    op.deadline_ms = MonotonicMs() + shared_.settings.timeout_ms();
    UnlinkDeadline(op);
    LinkDeadline(op);
  }
  if (op.machine.answered() && !op.decided) {
    if (op.machine.answer().failure != KeyAnswer::Failure::kNone) stats_.noquorum_errors.Inc();
    Decide(op);
  }
  if (!op.machine.finished()) return false;
  SendRepairs(op);
  AddMachineStats(op.machine);
  ReleaseOp(op);
  return true;
}

// Builds each distinct request once; each link patches in its own request id. Requests that fail
// at once (the node is known to be down) are reported after the whole batch went out, since the
// machine may queue new ones in answer (the batch's values point into it).
void Worker::SendRequests(KeyOp& op, std::span<const NodeRequest> requests) {
  uint8_t failed[KeyOperation::kMaxBatch];
  size_t failed_count = 0;
  std::span<const uint8_t> frame;
  const NodeRequest* built = nullptr;
  for (const NodeRequest& req : requests) {
    // A hint names its owner: built for each one.
    if (built == nullptr || built->type != req.type || built->want_value != req.want_value ||
        req.type == NodeRequest::Type::kHintPut) {
      const std::string_view target =
          req.type == NodeRequest::Type::kHintPut
              ? std::string_view(shared_.directory.slot(op.members[req.hint_for]).id)
              : std::string_view();
      frame = BuildKeyRequest(frame_builder_, kPlaceholderRequestId, op.key, req, target);
      built = &req;
    }
    op.pending |= uint64_t{1} << req.tag;
    stats_.upstream[op.members[req.replica]]->requests.Inc();
    if (req.type == NodeRequest::Type::kHintPut) stats_.hinted_writes.Inc();
    // Each request times out on its own (NodeLink::ExpireRequests), a timeout after it is sent.
    if (!links_[op.members[req.replica]]->Send(frame, PendingRef{op.index, op.generation, req.tag},
                                               MonotonicMs() + shared_.settings.timeout_ms())) {
      failed[failed_count++] = req.tag;
    }
    // The same write to the JOINING owners, once per round (replica 0 gets every round's).
    // Their answers carry kUncountedTag, which FindOp never matches: dropped.
    if (req.replica == 0 &&
        (req.type == NodeRequest::Type::kPut || req.type == NodeRequest::Type::kTouch)) {
      for (int j = 0; j < op.joining_count; ++j) {
        stats_.upstream[op.joining[j]]->requests.Inc();
        links_[op.joining[j]]->Send(frame, PendingRef{op.index, op.generation, kUncountedTag},
                                    MonotonicMs() + shared_.settings.timeout_ms());
      }
    }
  }
  for (size_t i = 0; i < failed_count; ++i) {
    op.pending &= ~(uint64_t{1} << failed[i]);
    stats_.upstream[op.members[op.machine.replica_of(failed[i])]]->failures.Inc();
    op.machine.OnNotSent(failed[i], NowMs());
  }
}

void Worker::OnNodeResponse(const PendingRef& ref, const wire::Envelope& envelope) {
  if (ref.owner & kFanoutOwnerBit) return FanoutReplied(ref, &envelope);
  KeyOp* op = FindOp(ref);
  if (op == nullptr) return;  // a late answer for an op already finished
  ReplicaDone(*op, ref.slot, &envelope);
}

void Worker::OnNodeFailure(const PendingRef& ref) {
  if (ref.owner & kFanoutOwnerBit) return FanoutReplied(ref, nullptr);
  KeyOp* op = FindOp(ref);
  if (op == nullptr) return;
  ReplicaDone(*op, ref.slot, nullptr);
}

void Worker::ReplicaDone(KeyOp& op, uint8_t tag, const wire::Envelope* env) {
  op.pending &= ~(uint64_t{1} << tag);
  if (op.client != nullptr && op.client->closed() && op.machine.read_only()) {
    // Its client is gone (closed past its output limit, or hung up): nothing depends on a read,
    // and finishing it would gather values (read-repair's) for nobody. Dropped; its other
    // replies find no op.
    Decide(op);
    AddMachineStats(op.machine);
    ReleaseOp(op);
    return;
  }
  switch (FeedKeyReply(op.machine, tag, env, NowMs(), &op.node_error)) {
    case KeyReplyKind::kFailure:
      stats_.upstream[op.members[op.machine.replica_of(tag)]]->failures.Inc();
      break;
    case KeyReplyKind::kNotReady:
      stats_.not_ready_replies.Inc();
      break;
    case KeyReplyKind::kReply:
    case KeyReplyKind::kNodeError:
    case KeyReplyKind::kWrongType:
      break;
  }
  if (op.client != nullptr) {
    const size_t held = op.machine.gathered_bytes();
    if (held != op.charged) {
      const size_t before = op.charged;
      op.charged = held;
      op.client->ChargeGathered(before, held);
    }
  }
  Advance(op);
}

void Worker::Decide(KeyOp& op) {
  op.decided = true;
  ClientConnection* client = op.client;
  op.client = nullptr;
  if (client != nullptr) {
    client->ChargeGathered(op.charged, 0);
    op.charged = 0;
    client->OnKeyDecided(*op.slot, op.key_index, op.machine.answer(), op.node_error);
  }
  op.slot = nullptr;
}

void Worker::AddMachineStats(const KeyOperation& machine) {
  if (machine.hlc_refusals() > 0) stats_.hlc_refusals.Inc(machine.hlc_refusals());
  if (machine.stale_retries() > 0) stats_.stale_write_retries.Inc(machine.stale_retries());
  if (machine.hint_acks() > 0) stats_.hint_acks.Inc(machine.hint_acks());
  if (machine.hint_refusals() > 0) stats_.hint_refusals.Inc(machine.hint_refusals());
  if (machine.sloppy_acks() > 0) stats_.sloppy_acks.Inc(machine.sloppy_acks());
}

void Worker::SendRepairs(KeyOp& op) {
  uint32_t targets = op.machine.repair_targets();
  if (targets == 0) return;
  const EntryState& state = op.machine.repair_state();
  const Version expiry_version = state.effective_expiry_version();
  const int64_t now = MonotonicMs();
  // Skip replicas already sent this very pair within the timeout (a hot key's repair in flight).
  auto it = recent_repairs_.find(op.key);
  if (it != recent_repairs_.end()) {
    RecentRepair& recent = it->second;
    if (recent.version == state.version && recent.expiry_version == expiry_version &&
        now - recent.sent_ms < shared_.settings.timeout_ms()) {
      const uint32_t skipped = targets & recent.replicas;
      if (skipped != 0) stats_.read_repairs_deduplicated.Inc(std::popcount(skipped));
      targets &= ~recent.replicas;
      recent.replicas |= targets;
    } else {
      recent = RecentRepair{state.version, expiry_version, targets, now};
    }
  } else {
    if (recent_repair_bytes_ + op.key.size() > kMaxRecentRepairBytes) {
      std::erase_if(recent_repairs_, [&](const auto& entry) {
        const bool old = now - entry.second.sent_ms >= shared_.settings.timeout_ms();
        if (old) recent_repair_bytes_ -= entry.first.size();
        return old;
      });
      if (recent_repair_bytes_ + op.key.size() > kMaxRecentRepairBytes) {
        recent_repairs_.clear();
        recent_repair_bytes_ = 0;
      }
    }
    recent_repair_bytes_ += op.key.size();
    recent_repairs_.emplace(op.key, RecentRepair{state.version, expiry_version, targets, now});
  }
  if (targets == 0) return;
  const auto frame = BuildRepairPut(repair_builder_, kPlaceholderRequestId, op.key, state,
                                    op.machine.repair_value(), op.machine.repair_type());
  for (int r = 0; r < op.n; ++r) {
    if (((targets >> r) & 1) == 0) continue;
    links_[op.members[r]]->SendUnwatched(frame);
    stats_.read_repairs.Inc();
  }
}

void Worker::ReleaseOp(KeyOp& op) {
  // Pooled ops keep their buffers' capacity for the next key; large ones are given back so that
  // a burst of big values does not stay pinned.
  op.machine.ReleaseLargeBuffers(kKeepBufferBytes);
  if (op.key.capacity() > kKeepBufferBytes) std::string().swap(op.key);
  UnlinkDeadline(op);
  op.in_use = false;
  op.client = nullptr;
  op.slot = nullptr;
  ++op.generation;
  if (free_ops_.size() < kMaxIdleOps) {
    free_ops_.push_back(&op);
    return;
  }
  // Past a burst: free the record; its slot remembers the generation to continue from.
  OpSlot& slot = op_slots_[op.index];
  slot.next_generation = op.generation;
  empty_op_slots_.push_back(op.index);
  slot.op.reset();  // `op` is gone from here on
}

void Worker::CacheTime() {
  cached_wall_ms_ = shared_.clock.NowMs();
  cached_monotonic_ms_ = shared_.clock.MonotonicMs();
  time_cached_ = true;
  ScheduleFlush();  // which clears the cache at the end of this iteration, whatever else happens
}

void Worker::OnTick() {
  time_cached_ = false;
  RefreshView();
  const int64_t now = MonotonicMs();
  // Requests time out one by one on their links (a node is marked down only after a run of
  // them); an op past its deadline has had every pending replica failed that way.
  for (auto& link : links_) {
    UpstreamStats& upstream = *stats_.upstream[link->member()];
    link->Probe();  // the link judging its node (node_link.h, "Suspicion"); else nothing
    upstream.timeouts.Inc(link->ExpireRequests(now));
    upstream.connections.Set(link->connected() ? 1 : 0);
    link->TeachFlushMark();
  }
  // Ops are in deadline order; stop at the first that is not due.
  while (deadline_head_ != nullptr && deadline_head_->deadline_ms <= now) {
    const uint32_t index = deadline_head_->index;
    const uint32_t generation = deadline_head_->generation;
    // Backstop: a replica still pending here is failed (links expire their requests one by one
    // above, and mark a node down only after a run of timeouts). Failing one may finish (and
    // free) the op, or start a new phase (which moves it to the tail), so it is looked up again
    // after each step.
    for (uint8_t tag = 0; tag < KeyOperation::kMaxTags; ++tag) {
      KeyOp* op = LiveOp(index, generation);
      if (op == nullptr || op->deadline_ms > now) break;
      if (((op->pending >> tag) & 1) == 0) continue;
      ReplicaDone(*op, tag, nullptr);
    }
    KeyOp* op = LiveOp(index, generation);
    if (op != nullptr && op == deadline_head_ && op->deadline_ms <= now) {
      // Nothing pending yet not finished cannot happen; guard against spinning anyway.
      op->deadline_ms = now + shared_.settings.timeout_ms();
      UnlinkDeadline(*op);
      LinkDeadline(*op);
    }
  }
}

// ---- batching -----------------------------------------------------------------------------------

void Worker::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  event_active(flush_event_.get(), EV_TIMEOUT, 0);
}

void Worker::OnLinkDirty(NodeLink& link) {
  dirty_links_.push_back(&link);
  ScheduleFlush();
}

void Worker::MarkClientDirty(ClientConnection& client) {
  if (!client.TakeFlushTicket()) return;  // already queued for this flush
  dirty_clients_.push_back(&client);
  ScheduleFlush();
}

void Worker::RetireClient(ClientConnection& client) {
  retired_clients_.push_back(&client);
  ScheduleFlush();
}

void Worker::OnFlush() {
  flush_scheduled_ = false;
  time_cached_ = false;  // the next iteration reads the clock again
  // Node requests first (they are what the clients wait for), then client replies. Flushing can
  // queue more work (a write error fails requests, whose clients get replies): loop until quiet.
  for (int round = 0; round < 4 && (!dirty_links_.empty() || !dirty_clients_.empty()); ++round) {
    flushing_links_.swap(dirty_links_);
    for (NodeLink* link : flushing_links_) link->Flush();
    flushing_links_.clear();
    flushing_clients_.swap(dirty_clients_);
    for (ClientConnection* c : flushing_clients_) {
      if (clients_.count(c) != 0) c->Flush();
    }
    flushing_clients_.clear();
  }
  for (ClientConnection* c : retired_clients_) {
    auto it = clients_.find(c);
    if (it != clients_.end() && it->second->retirable()) clients_.erase(it);
  }
  retired_clients_.clear();
  stats_.connected_clients.Set(static_cast<int64_t>(clients_.size()));
  if (!dirty_links_.empty() || !dirty_clients_.empty()) ScheduleFlush();
}

void Worker::OnAcceptEvent(evutil_socket_t fd, short, void* arg) {
  static_cast<Worker*>(arg)->OnAccept(fd);
}
void Worker::OnFlushEvent(evutil_socket_t, short, void* arg) {
  static_cast<Worker*>(arg)->OnFlush();
}
void Worker::OnTickEvent(evutil_socket_t, short, void* arg) { static_cast<Worker*>(arg)->OnTick(); }
void Worker::OnStopEvent(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  event_base_loopbreak(self->base_.get());
}
void Worker::OnReadyTimeout(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  if (!self->ready_.load()) {
    spdlog::warn("worker {}: not every node answered within {}ms; serving anyway", self->index_,
                 self->shared_.config.timeout_ms);
  }
  self->EnableAccept();
}

}  // namespace shoal::proxy
