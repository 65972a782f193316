#include "node/server/shard_worker.h"

#include <fcntl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "common/clock/hlc.h"
#include "common/wire/version_wire.h"
#include "node/server/anti_entropy_handlers.h"
#include "node/server/frame_peek.h"
#include "node/server/node_info.h"
#include "node/server/shard_router.h"

namespace shoal::node {

namespace {

// Read space offered to libuv: a first read gets a large buffer; later reads take what is free
// (at least kMinReadSpace), or room for the whole partial frame when its size is known.
constexpr size_t kInitialReadBytes = 64 * 1024;
constexpr size_t kMinReadSpace = 4 * 1024;
// Buffers larger than this are freed once empty, so that one big frame does not pin memory.
constexpr size_t kKeepBufferBytes = 1 << 20;
// Backpressure (see shard_worker.h). A connection stops being served while its unwritten output
// plus the expected size of its responses still out on other shards passes the pause mark, or
// this many of its requests are out; it resumes below the low marks. The expected size of a
// remote response is the largest recent one: any larger response raises it at once, smaller
// ones lower it by 1/8 each, down to a floor.
constexpr size_t kPauseOutputBytes = 16 << 20;
constexpr size_t kResumeOutputBytes = 4 << 20;
constexpr uint32_t kPauseRemoteInFlight = 256;
constexpr uint32_t kResumeRemoteInFlight = 128;
constexpr size_t kMinRemoteResponseEstimate = 4 * 1024;
// Active expiry (ShardStore::ExpireCycle): every kExpirePeriodMs, steps of 500 entries, again
// while a tenth of them turn out to be dead, for at most kExpireMaxNs; when few are dead, enough
// to pass over the shard about every 60 s (time permitting).
constexpr uint64_t kExpirePeriodMs = 10;
constexpr uint64_t kExpireMaxNs = 1'000'000;
constexpr ExpireCycleLimits kExpireLimits{
    .step = 500, .repeat_percent = 10, .full_pass_calls = 60'000 / kExpirePeriodMs};
// Accepting: how long a shard stops accepting when it runs out of fds or memory, and how often
// it says so.
constexpr uint64_t kAcceptPauseMs = 100;
constexpr uint64_t kAcceptWarningIntervalMs = 10'000;
constexpr int kAcceptBatch = 64;

Connection* ConnOf(uv_handle_t* h) { return static_cast<Connection*>(h->data); }
ShardWorker* WorkerOf(uv_handle_t* h) { return static_cast<ShardWorker*>(h->data); }

std::string PeerName(uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof(addr);
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown";
  char host[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    uv_ip4_name(a, host, sizeof(host));
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
  uv_ip6_name(a, host, sizeof(host));
  port = ntohs(a->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

}  // namespace

// ---- static trampolines ------------------------------------------------------------------------

struct ShardWorkerCallbacks {
  static void Accept(uv_poll_t* h, int status, int) {
    WorkerOf(reinterpret_cast<uv_handle_t*>(h))->OnAcceptReady(status);
  }
  static void Alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    Connection* c = ConnOf(h);
    static_cast<ShardWorker*>(h->loop->data)->OnAlloc(c, buf);
  }
  static void Read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
    auto* h = reinterpret_cast<uv_handle_t*>(s);
    static_cast<ShardWorker*>(h->loop->data)->OnRead(ConnOf(h), nread);
  }
  static void Write(uv_write_t* req, int status) {
    auto* c = static_cast<Connection*>(req->data);
    auto* h = reinterpret_cast<uv_handle_t*>(&c->tcp);
    static_cast<ShardWorker*>(h->loop->data)->OnWriteDone(c, status);
  }
  static void Closed(uv_handle_t* h) {
    static_cast<ShardWorker*>(h->loop->data)->OnClosed(ConnOf(h));
  }
  static void Check(uv_check_t* h) { WorkerOf(reinterpret_cast<uv_handle_t*>(h))->OnCheck(); }
  static void Mailbox(uv_async_t* h) { WorkerOf(reinterpret_cast<uv_handle_t*>(h))->OnMailbox(); }
  static void Expire(uv_timer_t* h) {
    WorkerOf(reinterpret_cast<uv_handle_t*>(h))->OnExpireTimer();
  }
  static void AcceptResume(uv_timer_t* h) {
    WorkerOf(reinterpret_cast<uv_handle_t*>(h))->OnAcceptResumeTimer();
  }
};

// ---- life cycle --------------------------------------------------------------------------------

ShardWorker::ShardWorker(NodeContext& node, uint32_t index)
    : node_(node),
      index_(index),
      shards_(static_cast<uint32_t>(node.config.threads)),
      max_frame_bytes_(static_cast<uint32_t>(node.config.max_frame_size)),
      store_(node.clock, node.config.max_memory / static_cast<uint64_t>(node.config.threads),
             node.config.tombstone_grace_ms),
      executor_(store_),
      builder_(64 * 1024),
      requests_by_type_(
          node.metrics, "shoal_node_requests_total", "Requests received, by message type.", 256,
          [](size_t t) {
            return metrics::Labels{{"type", wire::EnumNameMessage(static_cast<wire::Message>(t))}};
          }),
      execute_seconds_(
          node.metrics, "shoal_node_request_duration_seconds",
          "Time a key request (Get, Put, Touch) takes on its shard's store, by message type.", 256,
          [](size_t t) {
            return metrics::Labels{{"type", wire::EnumNameMessage(static_cast<wire::Message>(t))}};
          },
          metrics::kLatencySeconds),
      outboxes_(shards_) {
  if (node.members != nullptr) {
    const RingSnapshotPtr members = node.members->Current();
    digests_ = std::make_shared<SliceDigests>(members->ring, members->self,
                                              static_cast<int>(node.config.replicas));
    digests_generation_ = members->generation;
  }
  store_.SetObserver(digests_.get());
  store_.SetElementGrace(node.config.element_tombstone_grace_ms);
  // The marker restored from <data-dir>/flush (NodeServer::Restore): nothing older is accepted.
  store_.Flush(node.flush_mark.Get());
}

ShardWorker::~ShardWorker() {
  assert(!thread_.joinable());
  if (!loop_ready_) return;
  // Never launched (or launched and joined: then everything is closed already). Close whatever
  // is open and let the loop run the close callbacks.
  mailbox_.Close();
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  if (listen_fd_ >= 0) close(listen_fd_);
}

Status ShardWorker::Prepare(int listen_fd) {
  if (int rc = uv_loop_init(&loop_); rc != 0) {
    close(listen_fd);
    return Status::Internal(std::string("uv_loop_init: ") + uv_strerror(rc));
  }
  loop_ready_ = true;
  loop_.data = this;
  listen_fd_ = listen_fd;
  uv_timer_init(&loop_, &accept_resume_timer_);
  accept_resume_timer_.data = this;
  if (Status s = StartListening(); !s.ok()) return s;
  uv_check_init(&loop_, &flush_check_);
  flush_check_.data = this;
  uv_check_start(&flush_check_, ShardWorkerCallbacks::Check);
  uv_timer_init(&loop_, &expire_timer_);
  expire_timer_.data = this;
  uv_timer_start(&expire_timer_, ShardWorkerCallbacks::Expire, kExpirePeriodMs, kExpirePeriodMs);
  if (int rc = mailbox_.Open(&loop_, ShardWorkerCallbacks::Mailbox, this); rc != 0) {
    return Status::Internal(std::string("uv_async_init: ") + uv_strerror(rc));
  }
  return Status::Ok();
}

void ShardWorker::Launch() {
  thread_ = std::thread([this] {
    const std::string name = "shoal-shard-" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Every handle is closed (BeginShutdown): the loop is empty.
    if (uv_loop_close(&loop_) == 0) loop_ready_ = false;
  });
}

void ShardWorker::RequestStop() { mailbox_.RequestStop(); }

void ShardWorker::Join() {
  if (thread_.joinable()) thread_.join();
}

void ShardWorker::BeginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  if (listener_ready_) {
    listener_ready_ = false;
    accepting_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&accept_resume_timer_), nullptr);
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&expire_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_check_), nullptr);
  mailbox_.Close();
  std::vector<Connection*> open;
  open.reserve(connections_.size());
  for (auto& [id, c] : connections_) open.push_back(c);
  for (Connection* c : open) Close(c);
}

// ---- connections -------------------------------------------------------------------------------

Status ShardWorker::StartListening() {
  if (int rc = uv_poll_init_socket(&loop_, &listener_, listen_fd_); rc != 0) {
    return Status::IOError(std::string("uv_poll_init_socket: ") + uv_strerror(rc));
  }
  listener_.data = this;
  listener_ready_ = true;
  ResumeAccepting();
  return Status::Ok();
}

void ShardWorker::ResumeAccepting() {
  if (shutting_down_ || !listener_ready_ || accepting_) return;
  if (int rc = uv_poll_start(&listener_, UV_READABLE, ShardWorkerCallbacks::Accept); rc != 0) {
    spdlog::warn("shard {}: cannot watch the listening socket: {}", index_, uv_strerror(rc));
    uv_timer_start(&accept_resume_timer_, ShardWorkerCallbacks::AcceptResume, kAcceptPauseMs, 0);
    return;
  }
  accepting_ = true;
}

void ShardWorker::PauseAccepting(int error) {
  if (accepting_) {
    uv_poll_stop(&listener_);
    accepting_ = false;
  }
  stats_.accept_pauses.Inc();
  ++accept_pauses_unreported_;
  const uint64_t now = uv_now(&loop_);
  if (now >= next_accept_warning_ms_) {
    spdlog::warn(
        "shard {}: cannot accept connections: {}; they wait in the listen queue; not accepting "
        "for {} ms ({} times since the last warning)",
        index_, strerror(error), kAcceptPauseMs, accept_pauses_unreported_);
    accept_pauses_unreported_ = 0;
    next_accept_warning_ms_ = now + kAcceptWarningIntervalMs;
  }
  uv_timer_start(&accept_resume_timer_, ShardWorkerCallbacks::AcceptResume, kAcceptPauseMs, 0);
}

void ShardWorker::OnAcceptResumeTimer() { ResumeAccepting(); }

void ShardWorker::OnAcceptReady(int status) {
  if (status < 0) {
    spdlog::warn("shard {}: listening socket: {}", index_, uv_strerror(status));
    return;
  }
  for (int i = 0; i < kAcceptBatch && !shutting_down_; ++i) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      AdoptConnection(fd);
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
      PauseAccepting(err);
      return;
    }
    spdlog::warn("shard {}: accept failed: {}", index_, strerror(err));
    return;
  }
}

void ShardWorker::AdoptConnection(int fd) {
  auto* c = new Connection();
  uv_tcp_init(&loop_, &c->tcp);
  c->tcp.data = c;
  c->write_req.data = c;
  if (int rc = uv_tcp_open(&c->tcp, fd); rc != 0) {
    spdlog::warn("shard {}: cannot adopt an accepted connection: {}", index_, uv_strerror(rc));
    close(fd);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete ConnOf(h); });
    return;
  }
  c->id = next_connection_id_++;
  c->peer = PeerName(&c->tcp);
  c->authenticated = node_.config.cluster_secret.empty();
  uv_tcp_nodelay(&c->tcp, 1);
  connections_.emplace(c->id, c);
  stats_.connections.Add(1);
  stats_.connections_accepted.Inc();
  spdlog::debug("shard {}: connection {} from {}", index_, c->id, c->peer);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), ShardWorkerCallbacks::Alloc,
                ShardWorkerCallbacks::Read);
  c->reading = true;
}

void ShardWorker::OnAlloc(Connection* c, uv_buf_t* buf) {
  size_t want = c->in.capacity() == 0 ? kInitialReadBytes : kMinReadSpace;
  if (c->partial_frame_bytes > c->in.size()) {
    want = std::max(want, c->partial_frame_bytes - c->in.size());
  }
  std::span<uint8_t> space = c->in.PrepareWrite(want);
  buf->base = reinterpret_cast<char*>(space.data());
  buf->len = space.size();
}

void ShardWorker::OnRead(Connection* c, ssize_t nread) {
  if (nread > 0) {
    c->in.Commit(static_cast<size_t>(nread));
    ProcessInput(c);
    return;
  }
  if (nread == 0) return;  // EAGAIN
  if (nread == UV_EOF) {
    if (!c->in.empty()) {
      spdlog::warn("connection from {} ended in the middle of a frame ({} bytes of {})", c->peer,
                   c->in.size(), c->partial_frame_bytes);
    } else {
      spdlog::debug("shard {}: connection {} from {} closed by peer", index_, c->id, c->peer);
    }
    Drain(c);  // a half-closed peer still gets its answers
    return;
  }
  spdlog::debug("shard {}: connection from {}: {}", index_, c->peer, uv_strerror(nread));
  Close(c);
}

size_t ShardWorker::PendingOutputBytes(const Connection* c) {
  return c->out.size() + c->writing.size() + c->remote_request_bytes +
         static_cast<size_t>(c->remote_in_flight) * c->remote_response_estimate;
}

bool ShardWorker::Backlogged(const Connection* c) {
  return PendingOutputBytes(c) >= kPauseOutputBytes || c->remote_in_flight >= kPauseRemoteInFlight;
}

void ShardWorker::ProcessInput(Connection* c) {
  while (!c->draining && !c->closing && !Backlogged(c)) {
    if (c->skip_bytes > 0) {
      const size_t n = std::min(c->skip_bytes, c->in.size());
      c->in.Consume(n);
      c->skip_bytes -= n;
      if (c->skip_bytes > 0) break;
      continue;
    }
    DecodedFrame frame;
    const FrameStatus st =
        DecodeFrame(c->in.data(), c->in.size(), max_frame_bytes_, aligned_in_, &frame);
    if (st == FrameStatus::kOk) {
      c->partial_frame_bytes = 0;
      Dispatch(c, *frame.envelope, frame.frame);
      c->in.Consume(frame.frame_bytes);
      continue;
    }
    if (st == FrameStatus::kNeedMore) {
      c->partial_frame_bytes = frame.frame_bytes;
      break;
    }
    if (st == FrameStatus::kTooLarge) {
      if (!SkipOversizedFrame(c)) break;
      continue;
    }
    stats_.protocol_errors.Inc();
    uint32_t declared = 0;
    if (c->in.size() >= 4) std::memcpy(&declared, c->in.data(), 4);
    spdlog::warn("closing connection from {}: {} (declared envelope length {}, limit {})", c->peer,
                 FrameStatusName(st), flatbuffers::EndianScalar(declared), max_frame_bytes_);
    c->in.Clear();
    Drain(c);
  }
  aligned_in_.Release(kKeepBufferBytes);
  if (c->in.empty()) {
    c->in.ReleaseIfIdle(kKeepBufferBytes);
  } else if (c->in.capacity() > kKeepBufferBytes && c->in.size() <= kKeepBufferBytes / 2 &&
             c->partial_frame_bytes <= kKeepBufferBytes / 2) {
    // A large frame was handled and only a small remainder is left: move it to a small buffer.
    ByteBuffer smaller;
    smaller.Append(c->in.data(), c->in.size());
    c->in.swap(smaller);
  }
  UpdateReadPause(c);
}

bool ShardWorker::SkipOversizedFrame(Connection* c) {
  uint32_t declared = 0;
  std::memcpy(&declared, c->in.data(), 4);
  declared = flatbuffers::EndianScalar(declared);
  const size_t total = kFrameHeaderBytes + declared;
  std::optional<uint64_t> id = PeekRequestId(c->in.data(), c->in.size());
  if (!id.has_value() && c->in.size() < std::min(total, kPeekFrameBytes)) {
    c->partial_frame_bytes = std::min(total, kPeekFrameBytes);
    return false;  // the id may be in bytes still to come
  }
  c->partial_frame_bytes = 0;
  stats_.frames_too_large.Inc();
  char message[160];
  const int n = snprintf(message, sizeof(message),
                         "frame of %u bytes is larger than this node's limit of %u bytes "
                         "(--max-frame-size)",
                         declared, max_frame_bytes_);
  const uint64_t now = uv_now(&loop_);
  if (now >= next_too_large_log_ms_) {
    spdlog::warn("connection from {}: frame too large ({} bytes, limit {}){}", c->peer, declared,
                 max_frame_bytes_, id.has_value() ? ": skipped" : ", no request id: closing");
    next_too_large_log_ms_ = now + kAcceptWarningIntervalMs;
  }
  ReplyError(c, id.value_or(0), wire::ErrorCode::TooLarge, std::string_view(message, n));
  if (!id.has_value()) {
    stats_.protocol_errors.Inc();
    c->in.Clear();
    Drain(c);
    return true;
  }
  c->skip_bytes = total;  // dropped at the top of ProcessInput's loop, as the bytes arrive
  return true;
}

void ShardWorker::Reply(Connection* c, std::span<const uint8_t> frame) {
  // Every response answers a request this connection admitted (see Backlogged): it is kept,
  // however slowly the peer reads.
  NoteFrameBuilt(frame);
  c->out.Append(frame);
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c->id);
  }
}

void ShardWorker::Flush(Connection* c) {
  if (c->closing) return;
  if (!c->write_in_flight && !c->out.empty()) {
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(c->out.data())),
                               static_cast<unsigned>(c->out.size()));
    const int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1);
    if (n > 0) {
      c->out.Consume(static_cast<size_t>(n));
    } else if (n != UV_EAGAIN) {
      spdlog::debug("shard {}: write to {} failed: {}", index_, c->peer, uv_strerror(n));
      Close(c);
      return;
    }
    if (!c->out.empty()) {
      // The socket is full: hand the rest to libuv, which writes it as the peer reads.
      c->writing.swap(c->out);
      buf = uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(c->writing.data())),
                        static_cast<unsigned>(c->writing.size()));
      if (int rc = uv_write(&c->write_req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                            ShardWorkerCallbacks::Write);
          rc != 0) {
        spdlog::debug("shard {}: write to {} failed: {}", index_, c->peer, uv_strerror(rc));
        Close(c);
        return;
      }
      c->write_in_flight = true;
    } else {
      c->out.ReleaseIfIdle(kKeepBufferBytes);
    }
  }
  UpdateReadPause(c);
  MaybeFinishDrain(c);
}

void ShardWorker::UpdateReadPause(Connection* c) {
  if (c->closing) return;
  if (!c->paused) {
    if (Backlogged(c)) {
      c->paused = true;
      if (c->reading) uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    }
    return;
  }
  if (PendingOutputBytes(c) < kResumeOutputBytes && c->remote_in_flight < kResumeRemoteInFlight) {
    c->paused = false;
    if (c->reading) {
      uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), ShardWorkerCallbacks::Alloc,
                    ShardWorkerCallbacks::Read);
    }
    ProcessInput(c);  // frames left in the buffer when the connection paused
  }
}

void ShardWorker::OnWriteDone(Connection* c, int status) {
  c->write_in_flight = false;
  c->writing.Clear();
  c->writing.ReleaseIfIdle(kKeepBufferBytes);
  if (c->closing) return;  // cancelled by Close()
  if (status < 0) {
    spdlog::debug("shard {}: write to {} failed: {}", index_, c->peer, uv_strerror(status));
    Close(c);
    return;
  }
  Flush(c);  // also resumes reading once the backlog is small
}

void ShardWorker::Drain(Connection* c) {
  if (c->draining) return;
  c->draining = true;
  if (c->reading) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    c->reading = false;
  }
  MaybeFinishDrain(c);
}

void ShardWorker::MaybeFinishDrain(Connection* c) {
  if (c->draining && !c->closing && !c->write_in_flight && c->out.empty() &&
      c->remote_in_flight == 0) {
    Close(c);
  }
}

void ShardWorker::Close(Connection* c) {
  if (c->closing) return;
  c->closing = true;
  connections_.erase(c->id);
  stats_.connections.Add(-1);
  // Closing cancels an in-flight write (its callback runs first, with UV_ECANCELED) and stops
  // reading; the Connection is freed in the close callback, the last one libuv makes for it.
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), ShardWorkerCallbacks::Closed);
}

void ShardWorker::OnClosed(Connection* c) { delete c; }

// ---- requests ----------------------------------------------------------------------------------

void ShardWorker::Dispatch(Connection* c, const wire::Envelope& envelope,
                           std::span<const uint8_t> frame) {
  stats_.requests.Inc();
  const wire::Message type = envelope.message_type();
  requests_by_type_[static_cast<uint8_t>(type)].Inc();
  if (!c->authenticated && type != wire::Message::Hello && type != wire::Message::Auth) {
    RefuseUnauthenticated(c, envelope.request_id(),
                          "this node requires Auth (cluster secret) before any request");
    return;
  }
  switch (type) {
    case wire::Message::Get:
    case wire::Message::Put:
    case wire::Message::Touch:
      HandleKeyed(c, envelope, frame);
      return;
    case wire::Message::Hello:
      HandleHello(c, envelope);
      return;
    case wire::Message::Auth:
      HandleAuth(c, envelope);
      return;
    case wire::Message::Info:
      Reply(c, BuildInfoFrame(node_, envelope.request_id(), builder_));
      return;
    case wire::Message::DigestRequest:
    case wire::Message::KeyVersionsRequest:
      HandleAntiEntropy(c, envelope, frame);
      return;
    case wire::Message::HintPut:
      HandleHintPut(c, envelope, frame);
      return;
    case wire::Message::Repair:
      HandleRepair(c, envelope, frame);
      return;
    case wire::Message::FlushRequest:
      HandleFlush(c, envelope, frame);
      return;
    case wire::Message::KeyCountRequest:
      HandleKeyCount(c, envelope);
      return;
    case wire::Message::ScanRequest:
      HandleScan(c, envelope, frame);
      return;
    case wire::Message::GossipSyn:
    case wire::Message::GossipAck2:
    case wire::Message::MembersRequest:
    case wire::Message::MemberCommand:
      HandleMembership(c, envelope);
      return;
    default: {
      stats_.unsupported_requests.Inc();
      char message[96];
      const int n = snprintf(message, sizeof(message), "message type %s is not served by a node",
                             wire::EnumNameMessage(envelope.message_type()));
      ReplyError(c, envelope.request_id(), wire::ErrorCode::Unsupported,
                 std::string_view(message, n));
      return;
    }
  }
}

void ShardWorker::HandleKeyed(Connection* c, const wire::Envelope& envelope,
                              std::span<const uint8_t> frame) {
  KeyedRequest request;
  if (const char* error = ValidateKeyedRequest(envelope, &request)) {
    stats_.bad_requests.Inc();
    ReplyError(c, envelope.request_id(), wire::ErrorCode::BadRequest, error);
    return;
  }
  if (!c->peer_is_node && !Warm() && NotReadyRefuses(envelope)) {
    stats_.not_ready_rejections.Inc();
    char message[160];
    int n;
    if (node_.Syncing()) {
      n = snprintf(message, sizeof(message),
                   "node started empty and is pulling its keys from its peers (%llu of %llu "
                   "done): its reads and conditional writes are not answers yet",
                   static_cast<unsigned long long>(node_.sync.peers_done.Value()),
                   static_cast<unsigned long long>(node_.sync.peers.Value()));
    } else {
      const int64_t left = node_.warmup_until_monotonic_ms - node_.clock.MonotonicMs();
      n = snprintf(message, sizeof(message),
                   "node restarted and is warming up (%lld ms left): its reads and conditional "
                   "writes are not answers yet",
                   static_cast<long long>(std::max<int64_t>(left, 0)));
    }
    ReplyError(c, envelope.request_id(), wire::ErrorCode::NotReady, std::string_view(message, n));
    return;
  }
  if (request.version != nullptr) {
    // The node's reported max is the max over its stores (NodeMaxHlc): nothing shared is
    // written here. A version too far ahead of the wall clock is refused; one above the durable
    // ceiling waits for it (see "Versions").
    const uint64_t hlc = request.version->hlc();
    const int64_t ahead_ms = static_cast<int64_t>(HlcWallMs(hlc)) - node_.clock.NowMs();
    if (ahead_ms > node_.config.max_clock_offset_ms) {
      stats_.clock_skew_rejections.Inc();
      const std::string message = "timestamp " + std::to_string(ahead_ms) +
                                  "ms ahead of the local clock (max_clock_offset " +
                                  std::to_string(node_.config.max_clock_offset_ms) + "ms)";
      ReplyError(c, envelope.request_id(), wire::ErrorCode::ClockSkew, message);
      return;
    }
    if (hlc > node_.ceiling.durable()) {
      Park(c, hlc, frame);
      return;
    }
  }
  const uint32_t shard = ShardOf(request.key, shards_);
  if (shard == index_) {
    Reply(c, ExecuteTimed(envelope));
    return;
  }
  stats_.cross_shard_requests.Inc();
  ++c->remote_in_flight;
  c->remote_request_bytes += frame.size();
  outboxes_[shard].Append(ShardMessageKind::kRequest, index_, c->id, frame);
}

void ShardWorker::HandleAntiEntropy(Connection* c, const wire::Envelope& envelope,
                                    std::span<const uint8_t> frame) {
  std::string_view peer;
  wire::ErrorCode code;
  if (const char* error = ValidateAntiEntropyRequest(node_, envelope, &peer, &code)) {
    (code == wire::ErrorCode::Unsupported ? stats_.unsupported_requests : stats_.bad_requests)
        .Inc();
    ReplyError(c, envelope.request_id(), code, error);
    return;
  }
  if (envelope.message_type() == wire::Message::DigestRequest) {
    OfferFlushMark(c, envelope.message_as_DigestRequest()->flush_version());
    Reply(c, BuildDigestResponse(node_, envelope.request_id(), peer,
                                 *envelope.message_as_DigestRequest(), builder_));
    return;
  }
  // KeyVersions: every shard answers its part (see "Anti-entropy").
  const uint64_t gather_id = StartGather(c, envelope, frame);
  AddGatherPart(gather_id, GatherPart(envelope));
}

uint64_t ShardWorker::StartGather(Connection* c, const wire::Envelope& envelope,
                                  std::span<const uint8_t> frame) {
  const uint64_t gather_id = next_gather_id_++;
  gathers_.emplace(
      gather_id,
      Gather{c->id, envelope.request_id(), frame.size(), shards_, {}, envelope.message_type()});
  ++c->remote_in_flight;
  c->remote_request_bytes += frame.size();
  for (uint32_t shard = 0; shard < shards_; ++shard) {
    if (shard == index_) continue;
    stats_.cross_shard_requests.Inc();
    outboxes_[shard].Append(ShardMessageKind::kGatherRequest, index_, gather_id, frame);
  }
  return gather_id;
}

std::span<const uint8_t> ShardWorker::GatherPart(const wire::Envelope& envelope) {
  if (envelope.message_type() == wire::Message::FlushRequest) {
    const FlushResult r =
        store_.Flush(wire::FromWire(envelope.message_as_FlushRequest()->version()));
    auto& b = builder_.Start();
    auto part = wire::CreateFlushResponse(b, nullptr, 0, r.removed);
    return builder_.Finish(envelope.request_id(), wire::Message::FlushResponse, part.Union());
  }
  // A KeyVersionsRequest the origin validated.
  const wire::KeyVersionsRequest* r = envelope.message_as_KeyVersionsRequest();
  return BuildKeyVersionsPart(store_, *digests_, *r, envelope.request_id(), builder_);
}

std::span<const uint8_t> ShardWorker::MergeGatherParts(
    wire::Message type, uint64_t request_id, const std::vector<std::vector<uint8_t>>& parts) {
  if (type == wire::Message::FlushRequest) {
    uint64_t removed = 0;
    for (const std::vector<uint8_t>& part : parts) {
      const auto* r = wire::GetSizePrefixedEnvelope(part.data())->message_as_FlushResponse();
      if (r != nullptr) removed += r->removed();
    }
    auto& b = builder_.Start();
    const wire::Version mark = wire::ToWire(node_.flush_mark.Get());
    auto resp = wire::CreateFlushResponse(b, &mark, NodeMaxHlc(node_), removed);
    return builder_.Finish(request_id, wire::Message::FlushResponse, resp.Union());
  }
  return MergeKeyVersionsParts(parts, request_id, max_frame_bytes_, builder_);
}

void ShardWorker::AddGatherPart(uint64_t gather_id, std::span<const uint8_t> part) {
  auto it = gathers_.find(gather_id);
  if (it == gathers_.end()) return;
  Gather& g = it->second;
  g.parts.emplace_back(part.begin(), part.end());
  if (--g.remaining > 0) return;
  const Gather done = std::move(g);
  gathers_.erase(it);
  auto conn = connections_.find(done.conn_id);
  if (conn == connections_.end()) return;  // closed meanwhile
  Connection* c = conn->second;
  --c->remote_in_flight;
  c->remote_request_bytes -= std::min(c->remote_request_bytes, done.request_bytes);
  Reply(c, MergeGatherParts(done.type, done.request_id, done.parts));
  if (!c->dirty) MaybeFinishDrain(c);
}

bool ShardWorker::Warm() {
  if (!warm_ && node_.clock.MonotonicMs() >= node_.warmup_until_monotonic_ms && !node_.Syncing()) {
    warm_ = true;
  }
  return warm_;
}

void ShardWorker::Park(Connection* c, uint64_t hlc, std::span<const uint8_t> frame) {
  stats_.ceiling_waits.Inc();
  ++c->remote_in_flight;  // answered later: keeps a draining connection open, counts for pauses
  c->remote_request_bytes += frame.size();
  parked_.push_back(ParkedWrite{c->id, hlc, std::vector<uint8_t>(frame.begin(), frame.end())});
  node_.ceiling.Want(hlc);
}

void ShardWorker::ResumeParked() {
  if (parked_.empty()) return;
  const uint64_t durable = node_.ceiling.durable();
  std::vector<ParkedWrite> still;
  std::vector<ParkedWrite> ready;
  for (ParkedWrite& p : parked_) (p.hlc <= durable ? ready : still).push_back(std::move(p));
  parked_.swap(still);
  for (const ParkedWrite& p : parked_) node_.ceiling.Want(p.hlc);
  for (const ParkedWrite& p : ready) {
    auto it = connections_.find(p.conn_id);
    if (it == connections_.end()) continue;  // closed meanwhile
    Connection* c = it->second;
    --c->remote_in_flight;
    c->remote_request_bytes -= std::min(c->remote_request_bytes, p.frame.size());
    HandleKeyed(c, *wire::GetSizePrefixedEnvelope(p.frame.data()), p.frame);
    if (!c->dirty) MaybeFinishDrain(c);
  }
}

void ShardWorker::ReplyError(Connection* c, uint64_t request_id, wire::ErrorCode code,
                             std::string_view message) {
  Reply(c, BuildErrorFrame(builder_, request_id, code, message));
}

// ---- loop hooks --------------------------------------------------------------------------------

void ShardWorker::OnCheck() {
  // Once per loop iteration, after every I/O callback: one write per touched connection, one
  // post per destination shard.
  // A flush can resume a paused connection, whose frames then produce more output: repeat
  // until no connection is left dirty (each round consumes buffered input, so this ends).
  while (!dirty_.empty()) {
    flushing_.swap(dirty_);
    for (uint64_t id : flushing_) {
      auto it = connections_.find(id);
      if (it == connections_.end()) continue;
      it->second->dirty = false;
      Flush(it->second);
    }
    flushing_.clear();
  }
  if (builder_holds_large_frame_) {
    // Every frame built is copied out by now: give back what a large one made the builder take.
    builder_.builder().Reset();
    builder_holds_large_frame_ = false;
  }
  for (uint32_t shard = 0; shard < shards_; ++shard) {
    if (!outboxes_[shard].empty()) node_.workers[shard]->mailbox().Post(outboxes_[shard]);
  }
}

void ShardWorker::OnMailbox() {
  if (mailbox_.stop_requested()) {
    BeginShutdown();
    return;
  }
  mailbox_.Take(inbox_work_);
  inbox_work_.ForEach([this](const ShardMessage& m) {
    if (m.kind == ShardMessageKind::kCeilingRaised) {
      ResumeParked();
      return;
    }
    if (m.kind == ShardMessageKind::kGatherRequest) {
      // A copy of a request the origin validated (or built): trusted.
      const wire::Envelope* envelope = wire::GetSizePrefixedEnvelope(m.frame.data());
      std::span<const uint8_t> part = GatherPart(*envelope);
      NoteFrameBuilt(part);
      outboxes_[m.origin_shard].Append(ShardMessageKind::kGatherResponse, index_, m.conn_id, part);
      return;
    }
    if (m.kind == ShardMessageKind::kGatherResponse) {
      AddGatherPart(m.conn_id, m.frame);
      return;
    }
    if (m.kind == ShardMessageKind::kRequest) {
      // A copy of a frame the origin verified: trusted.
      const wire::Envelope* envelope = wire::GetSizePrefixedEnvelope(m.frame.data());
      std::span<const uint8_t> response = envelope->message_type() == wire::Message::ScanRequest
                                              ? ExecuteScan(*envelope)
                                              : ExecuteTimed(*envelope);
      NoteFrameBuilt(response);
      outboxes_[m.origin_shard].Append(ShardMessageKind::kResponse, index_, m.conn_id, response,
                                       static_cast<uint32_t>(m.frame.size()));
      return;
    }
    auto it = connections_.find(m.conn_id);
    if (it == connections_.end()) return;  // closed meanwhile
    Connection* c = it->second;
    --c->remote_in_flight;
    c->remote_request_bytes -= std::min<size_t>(c->remote_request_bytes, m.request_bytes);
    const size_t decayed = c->remote_response_estimate - c->remote_response_estimate / 8;
    c->remote_response_estimate = std::max({m.frame.size(), decayed, kMinRemoteResponseEstimate});
    Reply(c, m.frame);
  });
  inbox_work_.Clear();
}

void ShardWorker::MeasureBuffers() {
  size_t total = builder_.builder().GetSize() + aligned_in_.capacity() + inbox_work_.capacity() +
                 mailbox_.pending_capacity();
  for (const MessageBatch& b : outboxes_) total += b.capacity();
  for (const ParkedWrite& p : parked_) total += p.frame.capacity();
  for (const auto& [id, g] : gathers_) {
    for (const std::vector<uint8_t>& part : g.parts) total += part.capacity();
  }
  for (const auto& [id, c] : connections_) {
    total += c->in.capacity() + c->out.capacity() + c->writing.capacity();
  }
  stats_.buffer_bytes.Set(static_cast<int64_t>(total));
}

std::span<const uint8_t> ShardWorker::ExecuteTimed(const wire::Envelope& envelope) {
  const auto start = std::chrono::steady_clock::now();
  std::span<const uint8_t> response = executor_.Execute(envelope, builder_, Warm());
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  execute_seconds_[static_cast<uint8_t>(envelope.message_type())].Observe(took.count());
  return response;
}

void ShardWorker::FollowMembers() {
  if (node_.members == nullptr || node_.members->generation() == digests_generation_) return;
  const RingSnapshotPtr members = node_.members->Current();
  auto fresh = std::make_shared<SliceDigests>(members->ring, members->self,
                                              static_cast<int>(node_.config.replicas));
  store_.ReportHeld(*fresh);
  store_.SetObserver(fresh.get());
  {
    std::lock_guard<std::mutex> lock(digests_mu_);
    digests_ = std::move(fresh);  // the old ones live on while another thread reads them
  }
  digests_generation_ = members->generation;
}

void ShardWorker::OnExpireTimer() {
  FollowMembers();
  if (++expire_ticks_ % 10 == 0) MeasureBuffers();
  const uint64_t start = uv_hrtime();
  store_.ExpireCycle(kExpireLimits, [start] { return uv_hrtime() - start >= kExpireMaxNs; });
}

}  // namespace shoal::node
