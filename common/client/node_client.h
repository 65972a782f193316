#pragma once

// NodeClient: a small blocking client of the node protocol (schemas/shoal.fbs), shared by
// shoalctl and, later, node-to-node connections (node/ may not include proxy/, whose event-driven
// links are the proxy's own). One TCP connection, one thread; every call takes a deadline.
// Requests may be pipelined: send several frames (built with builder(), common/wire/frame.h),
// then receive their responses (in any order, matched by request id). Hello performs the whole
// handshake, cluster-secret proof and Auth included (common/auth/handshake.h).
//
//   auto client = NodeClient::Connect(address, 5000);
//   auto hello = (*client)->Hello("shoal", "shoalctl", secret, 5000);
//   FrameBuilder& fb = (*client)->builder();
//   auto& b = fb.Start();
//   uint64_t id = (*client)->NextRequestId();
//   (*client)->Send(fb.Finish(id, wire::Message::Get, wire::CreateGet(b, Bytes(b, key)).Union()));
//   auto reply = (*client)->Await(id, 5000);   // const wire::Envelope*, valid until next receive

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/clock/hlc.h"
#include "common/config/options.h"
#include "common/status/status.h"
#include "common/wire/frame.h"
#include "schemas/shoal_generated.h"

namespace shoal::client {

struct HelloReply {
  uint32_t protocol_version = 0;
  std::string node_id;
  std::string cluster;
  uint64_t max_hlc = 0;
  uint32_t shards = 0;
  uint32_t max_frame_size = 0;  // largest request frame the node accepts (0: not advertised)
  Version flush_version;        // the node's FLUSHALL marker (zero: none)
};

class NodeClient {
 public:
  static StatusOr<std::unique_ptr<NodeClient>> Connect(const HostPort& address, int timeout_ms);
  ~NodeClient();
  NodeClient(const NodeClient&) = delete;
  NodeClient& operator=(const NodeClient&) = delete;

  uint64_t NextRequestId() { return next_request_id_++; }
  FrameBuilder& builder() { return builder_; }

  // Writes the whole frame (or several concatenated frames). While the socket is full, reads and
  // buffers whatever responses arrive (Receive returns them later), so that a long pipeline
  // cannot deadlock against a node that stops reading until its responses are taken. Invalidates
  // the envelope last returned by Receive or Await.
  Status Send(std::span<const uint8_t> bytes, int timeout_ms);

  // The next response frame, whatever its request id. The envelope stays valid until the next
  // Receive or Await. A frame that fails verification or exceeds the limit is an error (the
  // connection is then unusable).
  StatusOr<const wire::Envelope*> Receive(int timeout_ms);

  // Receives until the response to `request_id` arrives; responses to other ids are dropped.
  StatusOr<const wire::Envelope*> Await(uint64_t request_id, int timeout_ms);

  // The size in bytes (prefix included) of the frame last returned by Receive or Await (for
  // traffic counters); 0 before the first.
  size_t last_frame_bytes() const { return consume_next_; }

  // Says Hello and returns the node's reply; an Error reply (e.g. WrongCluster) is an error.
  // With a cluster secret, checks the node's proof and sends Auth when the node asks for it
  // (common/auth/handshake.h); a node that cannot prove the secret, or one that requires a
  // secret when `secret` is empty, is an error. `flush_version` (a node's FLUSHALL marker; zero:
  // none) is offered to the node, which adopts it if greater (docs/replication.md, "Flush").
  StatusOr<HelloReply> Hello(const std::string& cluster, const std::string& sender_id,
                             const std::string& secret, int timeout_ms,
                             wire::PeerRole role = wire::PeerRole::Tool,
                             Version flush_version = {});

 private:
  explicit NodeClient(int fd) : fd_(fd) {}

  // Appends every byte readable now to in_ (without waiting).
  Status BufferIncoming();

  int fd_;
  uint64_t next_request_id_ = 1;
  FrameBuilder builder_;
  std::vector<uint8_t> in_;
  size_t in_head_ = 0;       // first unconsumed byte of in_
  FrameScratch aligned_in_;  // a frame at a misaligned in_head_ is decoded from here
  size_t consume_next_ = 0;  // bytes of the frame last returned, dropped on the next receive
};

// "BadRequest: key longer than 512 KiB" for an Error envelope.
std::string DescribeError(const wire::Error& error);

}  // namespace shoal::client
