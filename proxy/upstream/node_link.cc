#include "proxy/upstream/node_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/wire/version_wire.h"

namespace shoal::proxy {

namespace {

constexpr int64_t kMinBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 2000;

timeval ToTimeval(int64_t ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

// Resolves HOST:PORT (numeric or a name) to a socket address.
bool Resolve(const HostPort& hp, sockaddr_storage* out, socklen_t* len) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(hp.port);
  if (getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return false;
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

}  // namespace

NodeLink::NodeLink(event_base* base, int member, std::string node_id, HostPort address,
                   const NodeLinkOptions& options, NodeHealth& health, HybridLogicalClock& hlc,
                   NodeLinkListener& listener, HandshakeRefusals& refusals)
    : base_(base),
      member_(member),
      node_id_(std::move(node_id)),
      address_(std::move(address)),
      options_(options),
      health_(health),
      hlc_(hlc),
      listener_(listener),
      refusals_(refusals) {
  timer_.reset(event_new(base_, -1, 0, &NodeLink::OnTimerEvent, this));
}

NodeLink::~NodeLink() {
  read_event_.reset();
  write_event_.reset();
  timer_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void NodeLink::JudgeNode(const LinkDetectorOptions& options, const Clock& clock) {
  detector_ = std::make_unique<LinkDetector>(options);
  clock_ = &clock;
  // The ping: DBSIZE's request, answered by the node's connection thread from its counters.
  // Built with a placeholder id (1, so that the field exists); sent unwatched (id 0).
  FrameBuilder builder(64);
  auto& b = builder.Start();
  auto req = wire::CreateKeyCountRequest(b);
  const auto frame = builder.Finish(1, wire::Message::KeyCountRequest, req.Union());
  ping_frame_.assign(frame.begin(), frame.end());
}

void NodeLink::Start() { Connect(); }

bool NodeLink::Available() const {
  if (state_ == State::kConnected) return !health_.Skipped();
  // Queue behind the first connection attempt; afterwards a link that is not connected refuses.
  return state_ == State::kConnecting && !ever_settled_;
}

void NodeLink::Connect() {
  sockaddr_storage addr;
  socklen_t len = 0;
  if (!Resolve(address_, &addr, &len)) {
    Fail("cannot resolve " + address_.ToString());
    return;
  }
  fd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    Fail(std::string("socket: ") + strerror(errno));
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  state_ = State::kConnecting;
  read_event_.reset(event_new(base_, fd_, EV_READ | EV_PERSIST, &NodeLink::OnIoEvent, this));
  write_event_.reset(event_new(base_, fd_, EV_WRITE | EV_PERSIST, &NodeLink::OnIoEvent, this));
  out_.Clear();
  in_.Clear();
  held_.Clear();
  handshake_done_ = false;
  QueueHello();
  const int rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), len);
  if (rc < 0 && errno != EINPROGRESS) {
    Fail(std::string("connect: ") + strerror(errno));
    return;
  }
  // Writable means connected (or failed: SO_ERROR tells). Bounded by the request timeout.
  ArmWrite(true);
  timeval tv = ToTimeval(options_.timeout_ms);
  evtimer_add(timer_.get(), &tv);
}

void NodeLink::QueueHello() {
  nonce_ = auth::NewNonce();
  auto& b = hello_builder_.Start();
  // The flush marker this proxy knows: a node that missed it applies it before anything else on
  // this connection (after Auth, when the cluster has a secret).
  const wire::Version mark =
      wire::ToWire(options_.known_flush != nullptr ? options_.known_flush->Get() : Version{});
  auto hello = wire::CreateHello(b, kProtocolVersion, b.CreateString(options_.cluster),
                                 b.CreateString(options_.sender_id), wire::PeerRole::Proxy,
                                 b.CreateVector(nonce_.data(), nonce_.size()), &mark);
  auto frame = hello_builder_.Finish(0, wire::Message::Hello, hello.Union());
  out_.Append(frame.data(), frame.size());
}

void NodeLink::OnConnectable() {
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    Fail(std::string("connect: ") + strerror(err));
    return;
  }
  state_ = State::kConnected;
  event_add(read_event_.get(), nullptr);
  // Still waiting for HelloResponse: the timer keeps running until it arrives.
  OnWritable();
}

void NodeLink::ArmWrite(bool on) {
  if (on == write_armed_ || !write_event_) return;
  write_armed_ = on;
  if (on) {
    event_add(write_event_.get(), nullptr);
  } else {
    event_del(write_event_.get());
  }
}

uint64_t NodeLink::Register(const PendingRef& ref, int64_t deadline_ms) {
  uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<uint32_t>(pending_.size());
    pending_.emplace_back();
  }
  Pending& p = pending_[index];
  p.ref = ref;
  p.used = true;
  p.sequence = next_sequence_++;
  if (next_sequence_ == 0) next_sequence_ = 1;
  ++in_flight_;
  deadlines_.push_back({deadline_ms, index, p.sequence});
  return (static_cast<uint64_t>(p.sequence) << 32) | index;
}

bool NodeLink::Send(std::span<const uint8_t> frame, const PendingRef& ref, int64_t deadline_ms) {
  if (!Available()) return false;
  const uint64_t id = Register(ref, deadline_ms);
  // Before the handshake is verified, requests wait in held_ (see Handshake in the header).
  ByteBuffer& buffer = handshake_done_ ? out_ : held_;
  const size_t at = buffer.size();
  buffer.Append(frame.data(), frame.size());
  // Patch the request id in place: the frame was built with a non-zero placeholder id so that
  // the field is present in the buffer.
  PatchRequestId(frame, buffer.mutable_data() + at, id);
  if (!handshake_done_) return true;
  if (!dirty_) {
    dirty_ = true;
    listener_.OnLinkDirty(*this);
  }
  return true;
}

void NodeLink::SendUnwatched(std::span<const uint8_t> frame) {
  // A suspected node is sent nothing (as a down one): no repair waits in its socket.
  if (state_ != State::kConnected || !handshake_done_ || health_.Skipped()) return;
  AppendUnwatched(frame);
}

void NodeLink::AppendUnwatched(std::span<const uint8_t> frame) {
  const size_t at = out_.size();
  out_.Append(frame.data(), frame.size());
  PatchRequestId(frame, out_.mutable_data() + at, 0);
  if (!dirty_) {
    dirty_ = true;
    listener_.OnLinkDirty(*this);
  }
}

void NodeLink::TeachFlushMark() {
  if (options_.known_flush == nullptr || state_ != State::kConnected || !handshake_done_ ||
      health_.Skipped()) {
    return;  // taught once the node is in service again
  }
  const uint64_t generation = options_.known_flush->generation();
  if (generation == taught_generation_) return;
  taught_generation_ = generation;
  const Version mark = options_.known_flush->Get();
  if (mark <= node_flush_) return;
  node_flush_ = mark;
  FrameBuilder builder(128);
  auto& b = builder.Start();
  const wire::Version v = wire::ToWire(mark);
  auto req = wire::CreateFlushRequest(b, &v);
  // Built with a placeholder id (1, so that the field exists); SendUnwatched patches in 0.
  SendUnwatched(builder.Finish(1, wire::Message::FlushRequest, req.Union()));
}

void NodeLink::Flush() {
  dirty_ = false;
  if (state_ == State::kConnected) OnWritable();
}

void NodeLink::OnWritable() {
  bool wrote = false;
  while (!out_.empty()) {
    const ssize_t n = out_.WriteTo(fd_);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ArmWrite(true);
        return;
      }
      Fail(std::string("write: ") + strerror(errno));
      return;
    }
    wrote = true;
  }
  ArmWrite(false);
  // Everything queued is in the node's socket: from now on it owes the answers (a large value
  // still being written is not the node's silence).
  if (wrote) NoteSent();
  out_.ReleaseIfIdle(1 << 20);
}

void NodeLink::OnReadable() {
  bool answered = false;
  ReadFrames(&answered);
  if (answered) OnAnswered();
}

void NodeLink::NoteSent() {
  // One clock read per idle spell, not per write: Sent() matters only when nothing was owed.
  if (detector_ != nullptr && !detector_->owed()) detector_->Sent(clock_->MonotonicMs());
}

void NodeLink::OnAnswered() {
  if (detector_ == nullptr) return;
  const int64_t now = clock_->MonotonicMs();
  if (detector_->Answered(now, in_flight_ > 0)) {
    health_.suspected.store(false, std::memory_order_relaxed);
    spdlog::info("node {} at {} answers again: in service", node_id_, address_.ToString());
  }
  health_.phi.store(detector_->Phi(now), std::memory_order_relaxed);
}

void NodeLink::Probe() {
  if (detector_ == nullptr) return;
  const int64_t now = clock_->MonotonicMs();
  if (state_ == State::kConnected && handshake_done_ && detector_->PingDue(now)) {
    detector_->PingSent(now);
    AppendUnwatched(ping_frame_);
  }
  const bool suspected = detector_->Judge(now);
  const double phi = detector_->Phi(now);
  health_.phi.store(phi, std::memory_order_relaxed);
  if (suspected) {
    health_.suspected.store(true, std::memory_order_relaxed);
    spdlog::warn(
        "node {} at {} is suspected: silent for {} ms while owing an answer (phi {:.1f} > "
        "{}); skipped until it answers",
        node_id_, address_.ToString(), detector_->SilentMs(now), phi, detector_->threshold());
  }
  // A suspicion that lasts: the connection itself may be dead (a partition drops packets without
  // a reset, and a skipped node gets no request that could time out, so only TCP's retransmits
  // of the ping would notice it heal). As long a silence as a run of timeouts marks the node
  // down: the link reconnects, with backoff, until a Hello is answered (a new connection is
  // judged by its Hello's timeout, not here).
  const int64_t run_ms = options_.down_after_timeouts * options_.timeout_ms;
  if (detector_->suspected() && state_ == State::kConnected && handshake_done_ &&
      detector_->SilentMs(now) >= run_ms) {
    Fail("silent for " + std::to_string(detector_->SilentMs(now)) +
         " ms while suspected (--down-after-timeouts x --timeout-ms = " + std::to_string(run_ms) +
         " ms)");
  }
}

void NodeLink::ReadFrames(bool* answered) {
  while (true) {
    const ssize_t n = in_.ReadFrom(fd_, 65536);
    if (n == 0) {
      Fail("connection closed by node");
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Fail(std::string("read: ") + strerror(errno));
      return;
    }
    *answered = true;  // any byte is a sign of life (a large answer takes many reads)
    // Decode every whole frame now in the buffer.
    while (true) {
      DecodedFrame frame;
      const FrameStatus st =
          DecodeFrame(in_.data(), in_.size(), options_.max_frame_bytes, aligned_in_, &frame);
      if (st == FrameStatus::kNeedMore) {
        if (frame.frame_bytes > in_.size()) in_.PrepareWrite(frame.frame_bytes - in_.size());
        break;
      }
      if (st != FrameStatus::kOk) {
        Fail(std::string("bad frame from node: ") + FrameStatusName(st));
        return;
      }
      HandleFrame(*frame.envelope);
      if (state_ != State::kConnected) return;  // failed while handling
      in_.Consume(frame.frame_bytes);
    }
    if (static_cast<size_t>(n) < 65536) break;  // drained the socket
  }
  in_.ReleaseIfIdle(1 << 20);
  aligned_in_.Release(1 << 20);
}

void NodeLink::Refuse(metrics::Counter& counter, const std::string& reason) {
  counter.Inc();
  if (reason != last_refusal_) {
    last_refusal_ = reason;
    spdlog::error("refusing node {} at {}: {}", node_id_, address_.ToString(), reason);
  }
  Fail(reason);
}

void NodeLink::OnHelloResponse(const wire::HelloResponse& hello) {
  const std::string_view id =
      hello.node_id() != nullptr ? hello.node_id()->string_view() : std::string_view();
  const std::string_view cluster =
      hello.cluster() != nullptr ? hello.cluster()->string_view() : std::string_view();
  if (id != node_id_ || cluster != options_.cluster) {
    return Refuse(refusals_.identity, "it answers as node '" + std::string(id) + "' of cluster '" +
                                          std::string(cluster) + "', expected node '" + node_id_ +
                                          "' of cluster '" + options_.cluster + "'");
  }
  auto proof = auth::AnswerHelloResponse(options_.cluster_secret, nonce_, options_.sender_id,
                                         options_.cluster, hello);
  if (!proof.ok()) return Refuse(refusals_.auth, proof.status().message());
  if (proof->has_value()) {
    auto& b = hello_builder_.Start();
    auto auth_msg = wire::CreateAuth(b, b.CreateVector((**proof).data(), (**proof).size()));
    out_.Append(hello_builder_.Finish(0, wire::Message::Auth, auth_msg.Union()));
  }
  // Verified: the requests held so far follow the Auth.
  handshake_done_ = true;
  node_flush_ = wire::FromWire(hello.flush_version());
  if (options_.known_flush != nullptr) {
    options_.known_flush->Offer(node_flush_);
    // The node applied the marker our Hello offered (or will after Auth): the next tick sends
    // one only if it is still behind (a marker learned since, or one the Hello did not carry).
    taught_generation_ = options_.known_flush->generation() - 1;
  }
  health_.max_request_frame.store(hello.max_frame_size(), std::memory_order_relaxed);
  last_refusal_.clear();
  if (!held_.empty()) {
    out_.Append(held_.data(), held_.size());
    held_.Clear();
  }
  held_.ReleaseIfIdle(0);
  if (!out_.empty() && !dirty_) {
    dirty_ = true;
    listener_.OnLinkDirty(*this);
  }
  // Merged like any remote timestamp: a node whose clock is far ahead is not followed past
  // max_clock_offset (other nodes would refuse such versions).
  if (Status s = hlc_.Update(hello.max_hlc()); !s.ok()) {
    spdlog::warn("node {}: its highest version is not merged: {}", node_id_, s.message());
  }
  evtimer_del(timer_.get());
  backoff_ms_ = kMinBackoffMs;
  const bool was_down = health_.down.exchange(false, std::memory_order_relaxed);
  if (was_down || !ever_settled_) {
    spdlog::info("node {} at {} is up", node_id_, address_.ToString());
  }
  const bool first = !ever_settled_;
  ever_settled_ = true;
  if (first) listener_.OnNodeSettled(member_, true);
}

void NodeLink::HandleFrame(const wire::Envelope& envelope) {
  const wire::Message type = envelope.message_type();
  if (!handshake_done_) {
    if (type == wire::Message::HelloResponse)
      return OnHelloResponse(*envelope.message_as_HelloResponse());
    const auto* e = envelope.message_as_Error();
    const std::string what =
        e != nullptr && e->message() != nullptr
            ? e->message()->str()
            : std::string("a ") + wire::EnumNameMessage(type) + " frame before HelloResponse";
    if (e != nullptr && e->code() == wire::ErrorCode::WrongCluster) {
      return Refuse(refusals_.identity, what);
    }
    if (e != nullptr && e->code() == wire::ErrorCode::Unauthenticated) {
      return Refuse(refusals_.auth, what);
    }
    return Fail("handshake: " + what);
  }
  const uint64_t id = envelope.request_id();
  if (id == 0) {
    if (type == wire::Message::AuthResponse) {
      if (!envelope.message_as_AuthResponse()->ok()) {
        Refuse(refusals_.auth, "the node refused this proxy's cluster-secret proof");
      }
      return;
    }
    if (type == wire::Message::Error) {
      const auto* e = envelope.message_as_Error();
      const std::string what = e->message() ? e->message()->str() : "error";
      if (e->code() == wire::ErrorCode::Unauthenticated) {
        return Refuse(refusals_.auth, what);
      }
      spdlog::warn("node {}: {}", node_id_, what);
    }
    return;  // answer to an unwatched request
  }
  const uint32_t index = static_cast<uint32_t>(id & 0xffffffffu);
  const uint32_t sequence = static_cast<uint32_t>(id >> 32);
  if (index >= pending_.size() || !pending_[index].used || pending_[index].sequence != sequence) {
    return;  // a late answer to a request already failed
  }
  Pending& p = pending_[index];
  p.used = false;
  const PendingRef ref = p.ref;
  free_slots_.push_back(index);
  --in_flight_;
  consecutive_timeouts_ = 0;  // the node answers
  listener_.OnNodeResponse(ref, envelope);
}

size_t NodeLink::ExpireRequests(int64_t now_ms) {
  size_t expired = 0;
  // Callbacks may send new requests (appended at the back, with later deadlines) or fail the
  // link (which clears deadlines_): the front is looked at afresh each time.
  while (!deadlines_.empty()) {
    const Deadline d = deadlines_.front();
    Pending* p = d.index < pending_.size() ? &pending_[d.index] : nullptr;
    const bool live = p != nullptr && p->used && p->sequence == d.sequence;
    if (live && d.deadline_ms > now_ms) break;
    deadlines_.pop_front();
    if (!live) continue;  // answered already
    p->used = false;
    free_slots_.push_back(d.index);
    --in_flight_;
    ++expired;
    const PendingRef ref = p->ref;
    if (++consecutive_timeouts_ >= options_.down_after_timeouts) {
      // The request goes with the others in flight: Fail() fails only those still pending.
      const std::string reason = std::to_string(consecutive_timeouts_) +
                                 " consecutive requests timed out after " +
                                 std::to_string(options_.timeout_ms) + "ms";
      listener_.OnNodeFailure(ref);
      if (state_ != State::kBackoff) Fail(reason);
      break;
    }
    spdlog::debug("node {}: a request timed out ({} in a row)", node_id_, consecutive_timeouts_);
    listener_.OnNodeFailure(ref);
  }
  return expired;
}

void NodeLink::Fail(const std::string& reason) {
  const bool was_connected_or_connecting = state_ != State::kBackoff;
  if (state_ != State::kBackoff && !health_.down.exchange(true, std::memory_order_relaxed)) {
    spdlog::warn("node {} at {} is down: {}", node_id_, address_.ToString(), reason);
  }
  read_event_.reset();
  write_event_.reset();
  write_armed_ = false;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  state_ = State::kBackoff;
  out_.Clear();
  in_.Clear();
  held_.Clear();
  handshake_done_ = false;
  dirty_ = false;
  deadlines_.clear();
  consecutive_timeouts_ = 0;
  // Fail everything in flight. Callbacks may send new requests: the link is down, so Send()
  // refuses them and nothing is added to pending_ while we walk it.
  for (uint32_t i = 0; i < pending_.size(); ++i) {
    if (!pending_[i].used) continue;
    pending_[i].used = false;
    free_slots_.push_back(i);
    --in_flight_;
    listener_.OnNodeFailure(pending_[i].ref);
  }
  const bool first = !ever_settled_;
  ever_settled_ = true;
  if (first && was_connected_or_connecting) listener_.OnNodeSettled(member_, false);
  ScheduleReconnect();
}

void NodeLink::ScheduleReconnect() {
  timeval tv = ToTimeval(backoff_ms_);
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
  evtimer_add(timer_.get(), &tv);
}

void NodeLink::OnIoEvent(evutil_socket_t fd, short what, void* arg) {
  auto* self = static_cast<NodeLink*>(arg);
  if (self->state_ == State::kConnecting) {
    if (what & EV_WRITE) self->OnConnectable();
    return;
  }
  if (self->state_ != State::kConnected) return;
  if (what & EV_READ) self->OnReadable();
  if ((what & EV_WRITE) && self->state_ == State::kConnected) self->OnWritable();
}

void NodeLink::OnTimerEvent(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<NodeLink*>(arg);
  switch (self->state_) {
    case State::kBackoff:
      self->Connect();
      break;
    case State::kConnecting:
    case State::kConnected:
      // Connect or Hello did not complete within the timeout.
      self->Fail("no answer to connect/hello within " + std::to_string(self->options_.timeout_ms) +
                 "ms");
      break;
    case State::kIdle:
      break;
  }
}

}  // namespace shoal::proxy
