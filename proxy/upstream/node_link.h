#pragma once

// NodeLink: one worker's pipelined connection to one storage node.
//
// Owned by a worker and used only on that worker's thread (its event_base). Requests are
// appended to an output buffer and written in batches (Flush, called once per loop iteration by
// the worker); responses are matched to requests by request id, in any order.
//
// Timeouts are per request: a request not answered by its deadline fails alone (its late answer,
// if any, is ignored) and the other requests on the link carry on. A run of
// `down_after_timeouts` consecutive timeouts (no answer from the node in between) counts as a
// dead node.
//
// Handshake: every connection starts with Hello (with a fresh nonce). The node's HelloResponse
// must name the member this link is for (node id and cluster) and, when the proxy has a cluster
// secret, prove that the node knows it (node_proof); the proxy then proves it in turn (Auth).
// Requests sent before that are held in the link and written behind the handshake, so nothing
// reaches a node that has not been verified. A node that answers as another member, in another
// cluster, or without the right proof is refused: logged (once per streak), counted in
// NodeHealth, and the link is down as for a connection failure (it keeps retrying, so a node
// that is fixed comes back).
//
// Health: a link that cannot connect, is closed by the node or times out that many requests in a
// row is "down": every request in flight on it fails at once, new requests are refused
// immediately (Send returns false) and it reconnects with exponential backoff (100 ms doubling to
// 2 s). It is up again once the node has answered Hello. The down state is shared with the other
// workers' links to the same node through NodeHealth, so a dead node costs the timeout once, not
// once per worker.
//
// Suspicion (phi accrual, link_detector.h): one link per node, that of the worker the proxy picks
// for it (JudgeNode), also judges the node from the answers it reads and pings it when silent.
// A node it suspects is skipped like a down one by new requests (Available() is false on every
// worker's link, so they go to the other replicas or fallbacks at once), but the connections stay
// open and the requests already in flight keep their own deadlines: the next bytes from the node
// end the suspicion. A suspicion that lasts down_after_timeouts x timeout_ms makes the judging
// link fail and reconnect as above (its connection may be dead). Both states are in NodeHealth;
// either skips the node.
//
// Callback guarantee: for every request accepted by Register(), the listener gets exactly one of
// OnNodeResponse or OnNodeFailure (unless the link is destroyed first).

#include <event2/event.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/auth/handshake.h"
#include "common/buffer/byte_buffer.h"
#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "common/config/options.h"
#include "common/metrics/cells.h"
#include "common/wire/frame.h"
#include "proxy/upstream/flush_mark.h"
#include "proxy/upstream/link_detector.h"

namespace shoal::proxy {

// Identifies the waiter of a request: an owner object, its generation (so a recycled owner does
// not receive a stale answer) and a small slot number (which replica).
struct PendingRef {
  uint32_t owner = 0;  // an index the listener understands (not a pointer: owners may be freed)
  uint32_t generation = 0;
  uint8_t slot = 0;
};

class NodeLinkListener {
 public:
  virtual ~NodeLinkListener() = default;
  virtual void OnNodeResponse(const PendingRef& ref, const wire::Envelope& envelope) = 0;
  virtual void OnNodeFailure(const PendingRef& ref) = 0;
  // The link has learned the node's highest version and answered Hello (or gave up trying).
  virtual void OnNodeSettled(int member, bool up) = 0;
  // Bytes are waiting in the link's output buffer: schedule a Flush.
  virtual void OnLinkDirty(class NodeLink& link) = 0;
};

// The handshakes one worker's link refused, by reason (the label `reason` of
// shoal_proxy_upstream_handshake_refusals_total{node,reason}): X(field, reason, what).
#define SHOAL_PROXY_HANDSHAKE_REFUSALS(X)                          \
  X(identity, "identity", "answered as another member or cluster") \
  X(auth, "auth", "cluster-secret proof missing or wrong")

// Cells written by the link's worker thread only, read by any.
struct HandshakeRefusals {
#define SHOAL_HANDSHAKE_REFUSAL_FIELD(field, reason, what) ::shoal::metrics::Counter field;
  SHOAL_PROXY_HANDSHAKE_REFUSALS(SHOAL_HANDSHAKE_REFUSAL_FIELD)
#undef SHOAL_HANDSHAKE_REFUSAL_FIELD
};

// Shared by the links of all workers to one node.
struct NodeHealth {
  std::atomic<bool> down{false};
  // The phi-accrual judgement of the link that judges the node (written by its worker only):
  // phi as of that worker's last tick or answer, and whether it exceeds --phi-threshold.
  std::atomic<double> phi{0};
  std::atomic<bool> suspected{false};
  // The largest request frame the node accepts, from its last HelloResponse (0: not known yet).
  std::atomic<uint32_t> max_request_frame{0};

  // Whether requests skip the node: down, or suspected.
  bool Skipped() const {
    return down.load(std::memory_order_relaxed) || suspected.load(std::memory_order_relaxed);
  }
};

struct NodeLinkOptions {
  std::string cluster;
  std::string sender_id;
  // Empty: no cluster-secret handshake (a node that requires one is refused).
  std::string cluster_secret;
  int64_t timeout_ms = 1000;        // connect + Hello; requests carry their own deadline
  int64_t down_after_timeouts = 3;  // consecutive request timeouts that make the link down
  uint32_t max_frame_bytes = kDefaultMaxFrameBytes;
  // The proxy's known FLUSHALL marker (nullptr: none offered): offered in Hello, raised by each
  // HelloResponse's, taught to the node when it grows (TeachFlushMark). Outlives the link.
  KnownFlushMark* known_flush = nullptr;
};

class NodeLink {
 public:
  NodeLink(event_base* base, int member, std::string node_id, HostPort address,
           const NodeLinkOptions& options, NodeHealth& health, HybridLogicalClock& hlc,
           NodeLinkListener& listener, HandshakeRefusals& refusals);
  ~NodeLink();
  NodeLink(const NodeLink&) = delete;
  NodeLink& operator=(const NodeLink&) = delete;

  // Makes this link the judge of its node's phi (see Suspicion above): at most one link per node
  // in the process. Before Start(). `clock` outlives the link.
  void JudgeNode(const LinkDetectorOptions& options, const Clock& clock);

  // Starts the first connection attempt.
  void Start();

  // Whether requests are accepted now (connected and the node neither down nor suspected, or
  // connecting for the first time).
  bool Available() const;

  // Appends a frame built with a placeholder request id, patching in a fresh id registered to
  // `ref`, due by `deadline_ms` (the worker's monotonic clock; deadlines must not decrease from
  // one Send to the next). Returns false (nothing queued, no callback) when the link is not
  // Available().
  bool Send(std::span<const uint8_t> frame, const PendingRef& ref, int64_t deadline_ms);
  // Appends a frame whose answer nobody waits for (read-repair writes). Dropped when down.
  void SendUnwatched(std::span<const uint8_t> frame);

  // Writes buffered requests to the socket.
  void Flush();

  // When the known flush marker grew past what the node reported (or was sent) since the
  // handshake, sends it an unwatched FlushRequest with it (a node that missed a FLUSHALL learns
  // it from any proxy that knows it). Cheap when nothing changed: called on every worker tick.
  void TeachFlushMark();

  // The judging link only (else nothing), every worker tick: pings the node when it has been
  // silent for the ping interval, judges it, and publishes phi and suspicion in NodeHealth.
  void Probe();

  // Fails (OnNodeFailure) every request whose deadline is at or before `now_ms`, oldest first;
  // after a run of down_after_timeouts consecutive ones the link goes down (see above). Returns
  // the number of requests that timed out.
  size_t ExpireRequests(int64_t now_ms);

  int member() const { return member_; }
  const std::string& node_id() const { return node_id_; }
  size_t in_flight() const { return in_flight_; }
  bool connected() const { return state_ == State::kConnected; }

 private:
  enum class State : unsigned char { kIdle, kConnecting, kConnected, kBackoff };
  struct Pending {
    PendingRef ref;
    uint32_t sequence = 0;
    bool used = false;
  };
  // A sent request in deadline order (the entry may have been answered since: then its
  // pending_ slot is free or reused with another sequence).
  struct Deadline {
    int64_t deadline_ms;
    uint32_t index;
    uint32_t sequence;
  };

  void Connect();
  void OnConnectable();
  void OnReadable();
  // Reads and handles the frames in the socket; `*answered`: bytes came from the node.
  void ReadFrames(bool* answered);
  // Bytes came from the node (the judging link: a heartbeat; a suspicion ends).
  void OnAnswered();
  // Everything queued was written to the node's socket (the judging link: it owes answers).
  void NoteSent();
  // Appends a frame whose answer nobody waits for, with request id 0.
  void AppendUnwatched(std::span<const uint8_t> frame);
  void OnWritable();
  void HandleFrame(const wire::Envelope& envelope);
  void Fail(const std::string& reason);
  void ScheduleReconnect();
  void ArmWrite(bool on);
  uint64_t Register(const PendingRef& ref, int64_t deadline_ms);
  void QueueHello();
  void OnHelloResponse(const wire::HelloResponse& hello);
  // Refuses the node after a failed handshake check (see Handshake above).
  void Refuse(metrics::Counter& counter, const std::string& reason);

  static void OnIoEvent(evutil_socket_t fd, short what, void* arg);
  static void OnTimerEvent(evutil_socket_t fd, short what, void* arg);

  event_base* base_;
  const int member_;
  const std::string node_id_;
  const HostPort address_;
  const NodeLinkOptions options_;
  NodeHealth& health_;
  HybridLogicalClock& hlc_;
  NodeLinkListener& listener_;
  HandshakeRefusals& refusals_;  // the worker's cells for this node (outlive the link)

  State state_ = State::kIdle;
  bool ever_settled_ = false;
  bool write_armed_ = false;
  bool dirty_ = false;
  int fd_ = -1;
  int64_t backoff_ms_ = 100;
  std::unique_ptr<event, decltype(&event_free)> read_event_{nullptr, &event_free};
  std::unique_ptr<event, decltype(&event_free)> write_event_{nullptr, &event_free};
  std::unique_ptr<event, decltype(&event_free)> timer_{nullptr, &event_free};

  ByteBuffer out_;
  ByteBuffer in_;
  FrameScratch aligned_in_;  // a frame misaligned in in_ is decoded from here (frame.h)
  std::vector<Pending> pending_;
  std::vector<uint32_t> free_slots_;
  std::deque<Deadline> deadlines_;
  int64_t consecutive_timeouts_ = 0;
  uint32_t next_sequence_ = 1;
  size_t in_flight_ = 0;
  FrameBuilder hello_builder_;
  auth::Nonce nonce_{};             // sent in this connection's Hello
  bool handshake_done_ = false;     // HelloResponse verified (and Auth sent when required)
  ByteBuffer held_;                 // requests sent before that, written right behind the handshake
  std::string last_refusal_;        // logged once until the reason changes or a handshake succeeds
  Version node_flush_;              // the node's flush marker, as far as this link knows
  uint64_t taught_generation_ = 0;  // KnownFlushMark::generation() last compared with it
  // The judging link only (JudgeNode): its detector, clock and ping frame.
  std::unique_ptr<LinkDetector> detector_;
  const Clock* clock_ = nullptr;
  std::vector<uint8_t> ping_frame_;

 public:
  bool dirty() const { return dirty_; }
};

}  // namespace shoal::proxy
