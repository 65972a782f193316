#include "proxy/server/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>

#include "common/hash/key_hash.h"
#include "proxy/server/client_connection.h"

namespace shoal::proxy {

namespace {

constexpr suseconds_t kAcceptPauseMs = 100;
constexpr size_t kKeepBufferBytes = 16 << 10;
// Idle per-key operation records kept for reuse; more are freed when they finish.
constexpr size_t kMaxIdleOps = 4096;

constexpr int kPlaceholderRequestId = 1;  // patched per link (see NodeLink::Send)

wire::Version ToWire(const Version& v) { return wire::Version(v.hlc, v.writer); }
Version FromWire(const wire::Version* v) {
  return v == nullptr ? Version{} : Version{v->hlc(), v->writer()};
}

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
      stats_(*shared.worker_stats[index]) {}

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

  NodeLinkOptions link_options;
  link_options.cluster = shared_.config.cluster;
  link_options.sender_id = shared_.config.id;
  link_options.cluster_secret = shared_.config.cluster_secret;
  link_options.timeout_ms = shared_.config.timeout_ms;
  link_options.down_after_timeouts = shared_.config.down_after_timeouts;
  const auto& members = shared_.ring->members();
  for (size_t m = 0; m < members.size(); ++m) {
    auto hp = ParseHostPort(members[m].address);  // validated by ProxyConfig::Finish
    links_.push_back(std::make_unique<NodeLink>(base_.get(), static_cast<int>(m), members[m].id,
                                                *hp, link_options, shared_.health[m], shared_.hlc,
                                                *this));
  }
  unsettled_links_ = static_cast<int>(links_.size());
  for (auto& link : links_) link->Start();

  // Accept clients once every link settled, or after the timeout whatever happens.
  accept_resume_timer_.reset(event_new(base_.get(), -1, 0, &Worker::OnAcceptResume, this));
  ready_timer_.reset(event_new(base_.get(), -1, 0, &Worker::OnReadyTimeout, this));
  const int64_t wait_ms = shared_.config.timeout_ms + 100;
  timeval tv{static_cast<time_t>(wait_ms / 1000), static_cast<suseconds_t>((wait_ms % 1000) * 1000)};
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
        event_new(base_.get(), fd, EV_READ | EV_PERSIST, &Worker::OnAcceptEvent, this), &event_free);
    event_add(accept_events_.back().get(), nullptr);
  }
  ready_.store(true, std::memory_order_release);
}

void Worker::OnNodeSettled(int member, bool up) {
  if (--unsettled_links_ == 0) EnableAccept();
}

void Worker::OnAccept(int listen_fd) {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    Bump(stats_.connections_received);
    stats_.connected_clients.store(static_cast<int64_t>(clients_.size()),
                                   std::memory_order_relaxed);
    raw->Start();
  }
}

void Worker::PauseAccepting(const char* reason) {
  for (auto& ev : accept_events_) event_del(ev.get());
  Bump(stats_.accept_pauses);
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
  return op != nullptr && op->pending[ref.slot] ? op : nullptr;
}

void Worker::StartKeyOp(ClientConnection& client, ReplySlot& slot, uint32_t key_index,
                        const KeyRequest& request) {
  KeyOp& op = *AcquireOp();
  op.kind = request.kind;
  op.decided = false;
  op.client = &client;
  op.slot = &slot;
  op.key_index = key_index;
  op.key.assign(request.key.data(), request.key.size());
  op.node_error.clear();
  op.deadline_ms = MonotonicMs() + shared_.config.timeout_ms;
  op.n = shared_.ring->PreferenceList(KeyHash(request.key),
                                      static_cast<int>(shared_.config.replicas), op.members);
  const int required = RequiredReplicas(request.level, static_cast<int>(shared_.config.replicas));
  if (op.kind == OpKind::kGet) {
    op.read.Start(op.n, required);
  } else {
    op.write.Start(op.n, required, request.want_previous);
  }

  // Build the request once; each link patches in its own request id.
  auto& b = frame_builder_.Start();
  std::span<const uint8_t> frame;
  const auto key = b.CreateVector(reinterpret_cast<const uint8_t*>(request.key.data()),
                                  request.key.size());
  switch (request.kind) {
    case OpKind::kGet: {
      wire::GetBuilder get(b);
      get.add_key(key);
      get.add_want_value(request.want_value);
      frame = frame_builder_.Finish(kPlaceholderRequestId, wire::Message::Get, get.Finish().Union());
      break;
    }
    case OpKind::kPut: {
      const auto value = b.CreateVector(reinterpret_cast<const uint8_t*>(request.value.data()),
                                        request.value.size());
      const wire::Version version = ToWire(Version{shared_.hlc.NowAt(NowMs()), shared_.config.writer_id});
      wire::PutBuilder put(b);
      put.add_key(key);
      put.add_value(value);
      put.add_version(&version);
      put.add_expire_at_ms(static_cast<uint64_t>(std::max<int64_t>(request.expire_at_ms, 0)));
      put.add_tombstone(request.tombstone);
      put.add_condition(static_cast<wire::PutCondition>(request.condition));
      put.add_keep_ttl(request.keep_ttl);
      put.add_want_previous(request.want_previous);
      frame = frame_builder_.Finish(kPlaceholderRequestId, wire::Message::Put, put.Finish().Union());
      break;
    }
    case OpKind::kTouch: {
      const wire::Version version = ToWire(Version{shared_.hlc.NowAt(NowMs()), shared_.config.writer_id});
      wire::TouchBuilder touch(b);
      touch.add_key(key);
      touch.add_version(&version);
      touch.add_expire_at_ms(static_cast<uint64_t>(std::max<int64_t>(request.expire_at_ms, 0)));
      touch.add_want_value(request.want_value);
      touch.add_condition(static_cast<wire::TouchCondition>(request.touch_condition));
      frame =
          frame_builder_.Finish(kPlaceholderRequestId, wire::Message::Touch, touch.Finish().Union());
      break;
    }
  }

  // Link into the deadline list before sending: failures below may finish the op at once.
  op.prev = deadline_tail_;
  op.next = nullptr;
  if (deadline_tail_ != nullptr) deadline_tail_->next = &op;
  else deadline_head_ = &op;
  deadline_tail_ = &op;

  op.pending_count = op.n;
  for (int r = 0; r < op.n; ++r) op.pending[r] = true;
  // Send to every replica; a node known to be down fails at once (no waiting for it). When the
  // last replica fails that way the op finishes and may be freed: `op` is not touched after.
  const int n = op.n;
  for (int r = 0; r < n; ++r) {
    PendingRef ref{op.index, op.generation, static_cast<uint8_t>(r)};
    Bump(stats_.node_requests);
    if (!links_[op.members[r]]->Send(frame, ref, op.deadline_ms)) {
      if (ReplicaDone(op, r, nullptr)) return;
    }
  }
}

void Worker::OnNodeResponse(const PendingRef& ref, const wire::Envelope& envelope) {
  KeyOp* op = FindOp(ref);
  if (op == nullptr) return;  // a late answer for an op already finished
  ReplicaDone(*op, ref.slot, &envelope);
}

void Worker::OnNodeFailure(const PendingRef& ref) {
  KeyOp* op = FindOp(ref);
  if (op == nullptr) return;
  ReplicaDone(*op, ref.slot, nullptr);
}

// Records replica `r`'s outcome: a response envelope, or nullptr for a failure/timeout. Returns
// true when this finished the op (it is released and may be freed: do not touch it after).
bool Worker::ReplicaDone(KeyOp& op, int r, const wire::Envelope* env) {
  op.pending[r] = false;
  --op.pending_count;
  const wire::Error* error = nullptr;
  if (env != nullptr && env->message_type() == wire::Message::Error) {
    error = env->message_as_Error();
    if (op.node_error.empty() && error->message() != nullptr) {
      op.node_error = error->message()->str();
    }
    env = nullptr;
  }
  if (env == nullptr) {
    if (error == nullptr) Bump(stats_.node_failures);
    op.kind == OpKind::kGet ? op.read.OnFailure(r) : op.write.OnFailure(r);
  } else if (op.kind == OpKind::kGet) {
    const auto* get = env->message_as_GetResponse();
    if (get == nullptr) {
      op.read.OnFailure(r);
    } else {
      ReadReply reply;
      reply.found = get->found();
      reply.tombstone = get->tombstone();
      reply.value = AsView(get->value());
      reply.version = FromWire(get->version());
      reply.expire_at_ms = static_cast<int64_t>(get->expire_at_ms());
      if (reply.version.hlc != 0) (void)shared_.hlc.Update(reply.version.hlc);
      op.read.OnReply(r, reply);
    }
  } else if (op.kind == OpKind::kPut) {
    const auto* put = env->message_as_PutResponse();
    if (put == nullptr) {
      op.write.OnFailure(r);
    } else {
      WriteReply reply;
      reply.applied = put->applied();
      reply.condition_failed = put->condition_failed();
      reply.previous_found = put->previous_found();
      reply.previous_value = AsView(put->previous_value());
      reply.previous_version = FromWire(put->previous_version());
      reply.previous_expire_at_ms = static_cast<int64_t>(put->previous_expire_at_ms());
      op.write.OnReply(r, reply);
    }
  } else {
    const auto* touch = env->message_as_TouchResponse();
    if (touch == nullptr) {
      op.write.OnFailure(r);
    } else {
      WriteReply reply;
      reply.applied = touch->applied();
      reply.condition_failed = touch->condition_failed();
      reply.previous_found = touch->found();
      reply.previous_value = AsView(touch->value());
      reply.previous_version = FromWire(touch->version());
      reply.previous_expire_at_ms = static_cast<int64_t>(touch->previous_expire_at_ms());
      op.write.OnReply(r, reply);
    }
  }
  MaybeDecided(op);
  return MaybeFinished(op);
}

void Worker::MaybeDecided(KeyOp& op) {
  if (op.decided) return;
  const QuorumDecision decision = op.decision();
  if (decision == QuorumDecision::kPending) return;
  // A failed quorum is reported once every replica has answered or timed out, so that the error
  // says truthfully how many replicas acknowledged (and so may hold the write).
  if (decision == QuorumDecision::kFailed && op.pending_count > 0) return;
  op.decided = true;
  if (decision == QuorumDecision::kFailed) Bump(stats_.noquorum_errors);
  ClientConnection* client = op.client;
  op.client = nullptr;
  if (client != nullptr) client->OnKeyDecided(*op.slot, op);
  op.slot = nullptr;
}

bool Worker::MaybeFinished(KeyOp& op) {
  if (op.pending_count > 0) return false;
  if (op.kind == OpKind::kGet) SendRepairs(op);
  ReleaseOp(op);
  return true;
}

void Worker::SendRepairs(KeyOp& op) {
  const ReadCoordinator& read = op.read;
  if (!read.best_found()) return;
  bool built = false;
  std::span<const uint8_t> frame;
  for (int r = 0; r < op.n; ++r) {
    if (!read.NeedsRepair(r)) continue;
    if (!built) {
      auto& b = repair_builder_.Start();
      const auto key = b.CreateVector(reinterpret_cast<const uint8_t*>(op.key.data()),
                                      op.key.size());
      const auto value = b.CreateVector(
          reinterpret_cast<const uint8_t*>(read.best_value().data()), read.best_value().size());
      const wire::Version version = ToWire(read.best_version());
      wire::PutBuilder put(b);
      put.add_key(key);
      put.add_value(value);
      put.add_version(&version);
      put.add_expire_at_ms(static_cast<uint64_t>(read.best_expire_at_ms()));
      put.add_tombstone(read.best_tombstone());
      frame = repair_builder_.Finish(kPlaceholderRequestId, wire::Message::Put,
                                     put.Finish().Union());
      built = true;
    }
    links_[op.members[r]]->SendUnwatched(frame);
    Bump(stats_.read_repairs);
  }
}

void Worker::ReleaseOp(KeyOp& op) {
  // Pooled ops keep their buffers' capacity for the next key; large ones are given back so that
  // a burst of big values does not stay pinned.
  op.read.ReleaseLargeBuffers(kKeepBufferBytes);
  op.write.ReleaseLargeBuffers(kKeepBufferBytes);
  if (op.key.capacity() > kKeepBufferBytes) std::string().swap(op.key);
  // Unlink from the deadline list.
  if (op.prev != nullptr) op.prev->next = op.next;
  else deadline_head_ = op.next;
  if (op.next != nullptr) op.next->prev = op.prev;
  else deadline_tail_ = op.prev;
  op.prev = op.next = nullptr;
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
  const int64_t now = MonotonicMs();
  // Requests time out one by one on their links (a node is marked down only after a run of
  // them); an op past its deadline has had every pending replica failed that way.
  for (auto& link : links_) Bump(stats_.node_request_timeouts, link->ExpireRequests(now));
  // Ops are in deadline order; stop at the first that is not due.
  while (deadline_head_ != nullptr && deadline_head_->deadline_ms <= now) {
    const uint32_t index = deadline_head_->index;
    const uint32_t generation = deadline_head_->generation;
    const int n = deadline_head_->n;
    // Backstop: a replica still pending here is failed. ReplicaDone may finish (and free) the
    // op, so it is looked up again after each step.
    for (int r = 0; r < n; ++r) {
      KeyOp* op = LiveOp(index, generation);
      if (op == nullptr) break;
      if (op->pending[r]) ReplicaDone(*op, r, nullptr);
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
  stats_.connected_clients.store(static_cast<int64_t>(clients_.size()), std::memory_order_relaxed);
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
