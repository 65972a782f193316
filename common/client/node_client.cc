#include "common/client/node_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/auth/handshake.h"
#include "common/wire/version_wire.h"

namespace shoal::client {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Responses may carry values up to the node's frame limit (64 MiB by default) plus overhead.
constexpr uint32_t kMaxResponseFrame = 1u << 30;

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// Waits for `events` on fd until `deadline_ms`. Returns OK, Timeout or IOError.
Status WaitFor(int fd, short events, int64_t deadline_ms, const char* what) {
  while (true) {
    const int64_t left = deadline_ms - NowMs();
    if (left <= 0) return Status::Timeout(std::string("timed out ") + what);
    pollfd p{fd, events, 0};
    const int rc = poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return Status::Ok();
    if (rc < 0 && errno != EINTR) return Status::IOError(std::string("poll: ") + strerror(errno));
  }
}

}  // namespace

std::string DescribeError(const wire::Error& error) {
  std::string out = wire::EnumNameErrorCode(error.code());
  if (out.empty()) out = "Error " + std::to_string(static_cast<int>(error.code()));
  if (error.message() != nullptr) out += ": " + error.message()->str();
  return out;
}

StatusOr<std::unique_ptr<NodeClient>> NodeClient::Connect(const HostPort& address, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Status::InvalidArgument("cannot resolve '" + address.host + "': " + gai_strerror(rc));
  }
  Status last = Status::IOError("no address for '" + address.host + "'");
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = Status::IOError(std::string("socket: ") + strerror(errno));
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = Status::IOError("cannot connect to " + address.ToString() + ": " + strerror(errno));
      close(fd);
      continue;
    }
    Status s = WaitFor(fd, POLLOUT, deadline, "connecting");
    int err = 0;
    socklen_t len = sizeof(err);
    if (s.ok()) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (!s.ok() || err != 0) {
      last = s.ok()
                 ? Status::IOError("cannot connect to " + address.ToString() + ": " + strerror(err))
                 : Status::Timeout("timed out connecting to " + address.ToString());
      close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    freeaddrinfo(found);
    return std::unique_ptr<NodeClient>(new NodeClient(fd));
  }
  freeaddrinfo(found);
  return last;
}

NodeClient::~NodeClient() { close(fd_); }

Status NodeClient::Send(std::span<const uint8_t> bytes, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The node may have stopped reading until we take its responses (it pauses a peer whose
      // unread responses pile up): buffer what it sends while we wait to write, or neither side
      // would ever move.
      Status s = WaitFor(fd_, POLLOUT | POLLIN, deadline, "sending to the node");
      if (!s.ok()) return s;
      s = BufferIncoming();
      if (!s.ok()) return s;
      continue;
    }
    return Status::IOError(std::string("send: ") + strerror(errno));
  }
  return Status::Ok();
}

Status NodeClient::BufferIncoming() {
  while (true) {
    const size_t have = in_.size();
    in_.resize(have + kReadChunk);
    const ssize_t n = ::recv(fd_, in_.data() + have, kReadChunk, 0);
    in_.resize(have + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) continue;
    if (n == 0) return Status::IOError("the node closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
    return Status::IOError(std::string("recv: ") + strerror(errno));
  }
}

StatusOr<const wire::Envelope*> NodeClient::Receive(int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  in_head_ += consume_next_;
  consume_next_ = 0;
  while (true) {
    DecodedFrame frame;
    const FrameStatus st =
        DecodeFrame(in_.data() + in_head_, in_.size() - in_head_, kMaxResponseFrame, aligned_in_,
                    &frame);
    if (st == FrameStatus::kOk) {
      consume_next_ = frame.frame_bytes;
      return frame.envelope;
    }
    if (st != FrameStatus::kNeedMore) {
      return Status::Corruption(std::string("bad frame from the node: ") + FrameStatusName(st));
    }
    // Compact, then make room for the rest of the frame (or a chunk).
    if (in_head_ > 0) {
      in_.erase(in_.begin(), in_.begin() + static_cast<ptrdiff_t>(in_head_));
      in_head_ = 0;
    }
    const size_t have = in_.size();
    const size_t want =
        std::max(kReadChunk, frame.frame_bytes > have ? frame.frame_bytes - have : 0);
    in_.resize(have + want);
    ssize_t n;
    while (true) {
      n = ::recv(fd_, in_.data() + have, want, 0);
      if (n >= 0 || errno != EINTR) break;
    }
    if (n > 0) {
      in_.resize(have + static_cast<size_t>(n));
      continue;
    }
    in_.resize(have);
    if (n == 0) return Status::IOError("the node closed the connection");
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Status::IOError(std::string("recv: ") + strerror(errno));
    }
    Status s = WaitFor(fd_, POLLIN, deadline, "waiting for the node's response");
    if (!s.ok()) return s;
  }
}

StatusOr<const wire::Envelope*> NodeClient::Await(uint64_t request_id, int timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  while (true) {
    auto env = Receive(static_cast<int>(std::max<int64_t>(0, deadline - NowMs())));
    if (!env.ok() || (*env)->request_id() == request_id) return env;
  }
}

StatusOr<HelloReply> NodeClient::Hello(const std::string& cluster, const std::string& sender_id,
                                       const std::string& secret, int timeout_ms,
                                       wire::PeerRole role, Version flush_version) {
  const auth::Nonce nonce = auth::NewNonce();
  auto& b = builder_.Start();
  auto cluster_name = b.CreateString(cluster);
  auto sender = b.CreateString(sender_id);
  auto nonce_bytes = b.CreateVector(nonce.data(), nonce.size());
  const wire::Version mark = wire::ToWire(flush_version);
  auto hello = wire::CreateHello(b, kProtocolVersion, cluster_name, sender, role, nonce_bytes,
                                 flush_version.IsZero() ? nullptr : &mark);
  const uint64_t id = NextRequestId();
  Status s = Send(builder_.Finish(id, wire::Message::Hello, hello.Union()), timeout_ms);
  if (!s.ok()) return s;
  auto env = Await(id, timeout_ms);
  if (!env.ok()) return env.status();
  if (const auto* err = (*env)->message_as_Error()) {
    return Status::FailedPrecondition(DescribeError(*err));
  }
  const auto* resp = (*env)->message_as_HelloResponse();
  if (resp == nullptr) return Status::Corruption("unexpected reply to Hello");
  HelloReply reply;
  reply.protocol_version = resp->protocol_version();
  if (resp->node_id() != nullptr) reply.node_id = resp->node_id()->str();
  if (resp->cluster() != nullptr) reply.cluster = resp->cluster()->str();
  reply.max_hlc = resp->max_hlc();
  reply.shards = resp->shards();
  reply.max_frame_size = resp->max_frame_size();
  reply.flush_version = wire::FromWire(resp->flush_version());
  auto proof = auth::AnswerHelloResponse(secret, nonce, sender_id, cluster, *resp);
  if (!proof.ok()) return proof.status();
  if (proof->has_value()) {
    auto& ab = builder_.Start();
    auto auth_msg = wire::CreateAuth(ab, ab.CreateVector((*proof)->data(), (*proof)->size()));
    const uint64_t auth_id = NextRequestId();
    s = Send(builder_.Finish(auth_id, wire::Message::Auth, auth_msg.Union()), timeout_ms);
    if (!s.ok()) return s;
    auto auth_reply = Await(auth_id, timeout_ms);
    if (!auth_reply.ok()) return auth_reply.status();
    if (const auto* err = (*auth_reply)->message_as_Error()) {
      return Status::FailedPrecondition(DescribeError(*err));
    }
    const auto* ok = (*auth_reply)->message_as_AuthResponse();
    if (ok == nullptr || !ok->ok()) return Status::FailedPrecondition("the node refused Auth");
  }
  return reply;
}

}  // namespace shoal::client
