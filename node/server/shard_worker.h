#pragma once

// ShardWorker: one shard of a node: a thread running its own libuv loop, owning one ShardStore,
// its listening socket and the connections that socket accepted. Shared-nothing: no lock on the
// request path; other threads reach it only through its ShardMailbox.
//
// Connections. Every worker listens on the node's port through its own SO_REUSEPORT socket, so
// the kernel spreads connections over the threads (no acceptor thread, no fd hand-over).
//
// Requests. A connection's bytes are read into its buffer and every complete frame is handled at
// once. Hello and Info are answered by the connection's thread. Get/Put/Touch go to the shard
// that owns the key (ShardOf): executed in place when that is this thread, else the frame is
// appended to this thread's outgoing batch for the owner, which executes it and sends the
// response frame back the same way; the connection's thread writes it. Responses may so come back
// out of order; each carries its request's id.
//
// Frames over --max-frame-size. The node answers Error TooLarge and drops the frame's declared
// bytes as they arrive (never buffering them), then serves the frames behind it: one oversized
// request does not cost the others on a multiplexed connection. The Error carries the frame's
// request id, read from its first bytes (frame_peek.h: up to kPeekFrameBytes are awaited for
// it). When the id cannot be read from them (not a FlatBuffers Envelope built front-first, i.e.
// not a Shoal peer), the Error carries request id 0 and the connection is closed after it, like
// a corrupt frame: the peer could not match the answer to a request anyway.
//
// Batching. Responses are appended to the connection's output buffer and outgoing requests to
// per-shard batches; a uv_check handle (run once per loop iteration, after all I/O callbacks)
// writes each touched connection's output with one write and posts each non-empty batch with one
// lock and at most one wake-up.
//
// Memory outside the store. Input buffers grow to the frame being read (up to the frame limit)
// and shrink back to at most 1 MiB once it is handled; output buffers are freed past 1 MiB when
// empty; batches keep at most MessageBatch::kKeepBytes after use. Frames a connection has out on
// other shards (or parked) count in its backpressure below, so a connection holds at most about
// the pause mark plus one frame of cross-shard copies. Every second the worker sums what it holds
// into buffer_bytes (info: memory_outside_store_bytes).
//
// Backpressure. A connection stops being served (its remaining frames stay in its buffer and its
// socket is not read) while the output it may have to hold passes 16 MiB: unwritten responses
// plus, for every request out on another shard, the expected size of its response (the
// connection's remote_response_estimate) and the size of the request copied there; or while 256
// requests are out on other shards. It
// resumes below 4 MiB / 128. Responses to requests already admitted are always kept: a peer
// that does not read holds at most the pause mark plus what its admitted requests return.
//
// Accepting. The worker accepts by itself: a uv_poll on its listening socket, then accept4()
// until EAGAIN (at most kAcceptBatch per wake-up). It does not use uv_listen because at EMFILE
// libuv's accept path closes the whole pending backlog silently (its "EMFILE trick": it frees a
// reserved fd, then accepts and closes every queued connection). When accept fails for lack of
// resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) the pending connections stay queued in the kernel
// and the worker stops polling the socket for 100 ms, then tries again: they are served as soon
// as descriptors free up. Each pause counts in accept_pauses; the warning is logged at most once
// per 10 s with the number of pauses since the last one.
//
// Warm-up. A node restarted on a data directory it served from before answers Get and Touch
// with Error NotReady until NodeContext::warmup_until_monotonic_ms (its reads would report keys
// as missing that its peers hold), and conditional Puts (NotReadyRefuses); other Puts are
// applied. Checked on the receiving thread, before a
// request changes shards; each worker remembers once it is warm.
//
// Versions. A write (Put, Touch) whose version is more than --max-clock-offset-ms ahead of the
// local wall clock is refused (ClockSkew). One above the durable clock ceiling
// (clock_ceiling.h) is parked: copied, counted as in flight on its connection, and run again
// when the main thread reports a higher ceiling (kCeilingRaised). No shared clock is written.
//
// Anti-entropy (anti_entropy_handlers.h). With cluster membership (NodeContext::ring) the store
// reports its changes to the worker's SliceDigests. DigestRequest is answered by the connection's
// thread from every shard's digests; KeyVersionsRequest is a gather: the frame goes to every shard
// (kGatherRequest), each answers its part (kGatherResponse), and the connection's thread merges
// them once all are in. A gather counts as one request out on other shards (backpressure).
//
// Flush (FLUSHALL, docs/replication.md "Flush"). A FlushRequest is checked like a write's version
// (ClockSkew when too far ahead), persisted by the node's FlushMark (an error Internal if that
// fails), then gathered: every shard applies it to its store (ShardStore::Flush, one pass) and the
// connection's thread answers FlushResponse once all have, with the node's marker and max HLC.
// A marker offered by a peer (Hello of an authenticated peer, DigestRequest) is adopted without
// an answer (AdoptFlushMark, node_flush.h).
//
// Keyspace (DBSIZE, SCAN). KeyCountRequest is answered by the connection's thread from every
// shard's counters (live values = entries held - tombstones). A ScanRequest's cursor names a shard
// (bits 40 and up, modulo the shards) and that store's cursor (below): the request runs on that
// shard (handed over like a keyed request), walks `count` entries from there (ShardStore::Scan),
// keeps the live keys that match the pattern and type, and answers the next cursor: the same
// shard's, the next shard's start, or 0 after the last shard. A key held for the whole traversal is
// returned at least once. An answer over half the frame limit is refused TooLarge (ask for a
// smaller count).
//
// Hello and Auth. A Hello naming another cluster (or none) gets Error WrongCluster and the
// connection is closed once that is written. The peer's protocol_version is not checked: the
// node answers with its own, and the peer decides. Without a cluster secret, requests before
// Hello are served and Auth is answered ok. With one (--cluster-secret-file), the HelloResponse
// carries a fresh challenge, the node's proof for Hello.nonce and auth_required; the peer must
// then send Auth with its proof (common/auth/handshake.h). Any other request before a successful
// Auth, an Auth before Hello, or a wrong proof is answered Error Unauthenticated and the
// connection is closed once that is written (auth_failures counts them).
//
// Hints. A HintPut (hinted handoff, node/hints/) is handled by the connection's thread, whatever
// its key: it is never applied to this node's store. Refusals (no --nodes, a target that is not
// a member, hints disabled, spool full, the key already expired) are answered HintAck{stored=
// false} at once; an admitted hint goes to the node's hint writer, which answers HintAck once
// it is durable through this shard's mailbox (a kResponse, counted in flight on the connection
// like a cross-shard request).
//
// Repair (`shoalctl repair`). Handled by the connection's thread: a standalone node answers
// RepairResponse{ok=false} at once; otherwise the request goes to the node's anti-entropy driver
// (anti_entropy.h, RequestRepair), whose thread answers once its round has ended through this
// shard's mailbox (a kResponse, counted in flight on the connection like a hint). The loop never
// waits for the round.
//
// Membership (shard_worker_members.cc): GossipSyn and GossipAck2 (from nodes only) and
// MembersRequest are answered at once, under the gossip service's short lock
// (node/gossip/gossip_service.h); a node without --seeds refuses gossip and lists --nodes.
//
// Thread rules: Prepare() and Launch() run on the thread that builds the node, before/when the
// worker's thread starts; RequestStop() and Join() from any other thread; stats(), store().stats()
// and max_hlc readings from any thread; everything else on the worker's thread only.

#include <uv.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/metrics/lazy_cells.h"
#include "common/status/status.h"
#include "common/wire/frame.h"
#include "node/gossip/gossip_stats.h"
#include "node/hints/hint_counters.h"
#include "node/server/connection.h"
#include "node/server/node_context.h"
#include "node/server/request_executor.h"
#include "node/server/server_stats.h"
#include "node/server/shard_mailbox.h"
#include "node/store/shard_store.h"
#include "node/store/slice_digests.h"

namespace shoal::node {

class ShardWorker {
 public:
  ShardWorker(NodeContext& node, uint32_t index);
  ~ShardWorker();  // the thread must have been joined (or never launched)
  ShardWorker(const ShardWorker&) = delete;
  ShardWorker& operator=(const ShardWorker&) = delete;

  // Sets up the loop and its handles; takes ownership of `listen_fd` (a listening socket). Every
  // worker of the node must be prepared before any is launched (their mailboxes must be open).
  Status Prepare(int listen_fd);
  // Starts the thread.
  void Launch();
  // Asks the thread to stop accepting, close its connections and end its loop. Any thread.
  void RequestStop();
  // Waits for the thread to end. Any thread but the worker's own.
  void Join();

  // A ScanRequest cursor: the shard in the bits from here up, its store's cursor below.
  static constexpr int kScanShardShift = 40;

  uint32_t index() const { return index_; }
  const ShardStore& store() const { return store_; }
  // This shard's anti-entropy digests (nullptr on a standalone node), for the ring they were
  // built for (SliceDigests::ring(): the node's MemberRing when they were last rebuilt, see
  // FollowMembers). Any thread; the snapshot stays valid while held.
  std::shared_ptr<const SliceDigests> digests() const {
    std::lock_guard<std::mutex> lock(digests_mu_);
    return digests_;
  }
  const ServerStats& stats() const { return stats_; }
  // The HintPuts this shard refused or found expired (node/hints/hint_counters.h).
  const hints::SpoolCounters& hint_counters() const { return hint_counters_; }
  // The members an operator removed through this shard (node/gossip/gossip_stats.h).
  const GossipStats& gossip_counters() const { return gossip_counters_; }
  ShardMailbox& mailbox() { return mailbox_; }

 private:
  friend struct ShardWorkerCallbacks;  // the libuv trampolines in the .cc file

  // libuv callbacks.
  void OnAcceptReady(int status);
  void AdoptConnection(int fd);
  void OnAlloc(Connection* c, uv_buf_t* buf);
  void OnRead(Connection* c, ssize_t nread);
  void OnWriteDone(Connection* c, int status);
  void OnClosed(Connection* c);
  void OnCheck();
  void OnMailbox();
  void OnExpireTimer();
  // When the node's MemberRing changed since digests_ was built: builds digests for the new ring
  // from every entry held (one pass over the store, on this thread) and swaps them in.
  void FollowMembers();
  // Sums the memory this worker holds outside its store into stats_.buffer_bytes.
  void MeasureBuffers();
  // executor_.Execute, timed into execute_seconds_.
  std::span<const uint8_t> ExecuteTimed(const wire::Envelope& envelope);
  void OnAcceptResumeTimer();

  // Accepting (see "Accepting" above).
  Status StartListening();
  void ResumeAccepting();
  void PauseAccepting(int error);  // an errno value

  // Request path.
  void ProcessInput(Connection* c);
  // The frame at the head of `c->in` declares more than the limit: answers it and starts
  // skipping it. False while the bytes that carry its request id have not arrived yet.
  bool SkipOversizedFrame(Connection* c);
  // Output the connection may have to hold: unwritten bytes plus expected remote responses.
  static size_t PendingOutputBytes(const Connection* c);
  static bool Backlogged(const Connection* c);
  void Dispatch(Connection* c, const wire::Envelope& envelope, std::span<const uint8_t> frame);
  void HandleHello(Connection* c, const wire::Envelope& envelope);
  void HandleAuth(Connection* c, const wire::Envelope& envelope);
  // Answers Error Unauthenticated and closes the connection once that is written.
  void RefuseUnauthenticated(Connection* c, uint64_t request_id, std::string_view why);
  void HandleKeyed(Connection* c, const wire::Envelope& envelope, std::span<const uint8_t> frame);
  void HandleAntiEntropy(Connection* c, const wire::Envelope& envelope,
                         std::span<const uint8_t> frame);
  // A part of gather `gather_id` arrived (from this or another shard).
  void AddGatherPart(uint64_t gather_id, std::span<const uint8_t> part);
  // Sends `frame` to every other shard as gather `gather_id`'s request (see "Anti-entropy").
  uint64_t StartGather(Connection* c, const wire::Envelope& envelope,
                       std::span<const uint8_t> frame);
  // This shard's part of a gathered request (KeyVersionsRequest, FlushRequest): a frame in
  // builder_.
  std::span<const uint8_t> GatherPart(const wire::Envelope& envelope);
  // The answer merged from every shard's part.
  std::span<const uint8_t> MergeGatherParts(wire::Message type, uint64_t request_id,
                                            const std::vector<std::vector<uint8_t>>& parts);
  // shard_worker_scan.cc (see "Keyspace").
  void HandleKeyCount(Connection* c, const wire::Envelope& envelope);
  void HandleScan(Connection* c, const wire::Envelope& envelope, std::span<const uint8_t> frame);
  std::span<const uint8_t> ExecuteScan(const wire::Envelope& envelope);
  // shard_worker_flush.cc (see "Flush").
  void HandleFlush(Connection* c, const wire::Envelope& envelope, std::span<const uint8_t> frame);
  // Adopts a marker a peer offered (Hello, DigestRequest), once the peer is authenticated.
  void OfferFlushMark(Connection* c, const wire::Version* marker);
  // shard_worker_hints.cc (see "Hints").
  void HandleHintPut(Connection* c, const wire::Envelope& envelope, std::span<const uint8_t> frame);
  // shard_worker_repair.cc (see "Repair").
  void HandleRepair(Connection* c, const wire::Envelope& envelope, std::span<const uint8_t> frame);
  // GossipSyn, GossipAck2, MembersRequest (shard_worker_members.cc).
  void HandleMembership(Connection* c, const wire::Envelope& envelope);
  // MemberCommand (shoalctl remove / decommission), shard_worker_members.cc.
  void HandleMemberCommand(Connection* c, const wire::Envelope& envelope);
  bool Warm();
  void Park(Connection* c, uint64_t hlc, std::span<const uint8_t> frame);
  void ResumeParked();
  void ReplyError(Connection* c, uint64_t request_id, wire::ErrorCode code,
                  std::string_view message);
  void Reply(Connection* c, std::span<const uint8_t> frame);

  // Connection state.
  void Flush(Connection* c);
  // Stops reading from a peer that leaves too much output unread; resumes when it catches up.
  void UpdateReadPause(Connection* c);
  void NoteFrameBuilt(std::span<const uint8_t> frame) {
    if (frame.size() > kLargeFrameBytes) builder_holds_large_frame_ = true;
  }
  void Drain(Connection* c);
  void MaybeFinishDrain(Connection* c);
  void Close(Connection* c);
  void BeginShutdown();

  NodeContext& node_;
  const uint32_t index_;
  const uint32_t shards_;
  const uint32_t max_frame_bytes_;

  // Replaced by the owner thread only (FollowMembers), under digests_mu_ for the readers of
  // digests(); before store_: outlives its registration as the store's observer.
  std::shared_ptr<SliceDigests> digests_;
  mutable std::mutex digests_mu_;
  uint64_t digests_generation_ = 0;  // the MemberRing generation digests_ was built for
  ShardStore store_;
  RequestExecutor executor_;
  static constexpr size_t kLargeFrameBytes = 1 << 20;
  FrameBuilder builder_;  // every frame this thread encodes
  bool builder_holds_large_frame_ = false;
  // Where a request frame that sits misaligned in its connection's buffer is decoded from (read
  // only while it is dispatched; see frame.h, "Alignment").
  FrameScratch aligned_in_;
  ServerStats stats_;
  hints::SpoolCounters hint_counters_;  // this thread only
  GossipStats gossip_counters_;         // this thread only
  // shoal_node_requests_total{type} and shoal_node_request_duration_seconds{type} (the time a
  // key request takes on its shard's store), index = wire::Message; this thread only.
  metrics::LazyCells<metrics::Counter> requests_by_type_;
  metrics::LazyCells<metrics::Histogram> execute_seconds_;

  uv_loop_t loop_{};
  bool loop_ready_ = false;
  uv_poll_t listener_{};         // readiness of listen_fd_ (see "Accepting")
  bool listener_ready_ = false;  // listener_ is initialised and not closed
  bool accepting_ = false;       // listener_ is started
  int listen_fd_ = -1;           // the listening socket, owned
  uv_timer_t accept_resume_timer_{};
  uint64_t next_accept_warning_ms_ = 0;  // loop time before which pauses are not logged
  uint64_t accept_pauses_unreported_ = 0;
  uint64_t next_too_large_log_ms_ = 0;  // loop time before which oversized frames are not logged
  uv_check_t flush_check_{};
  uv_timer_t expire_timer_{};
  ShardMailbox mailbox_;
  std::thread thread_;
  bool shutting_down_ = false;

  uint64_t next_connection_id_ = 1;
  std::unordered_map<uint64_t, Connection*> connections_;
  std::vector<uint64_t> dirty_;         // connections to flush at the end of this iteration
  std::vector<uint64_t> flushing_;      // the ones being flushed (dirty_ may grow meanwhile)
  std::vector<MessageBatch> outboxes_;  // index = destination shard
  MessageBatch inbox_work_;             // messages taken from the mailbox, being handled
  uint32_t expire_ticks_ = 0;           // OnExpireTimer runs; buffers are measured every 10th
  bool warm_ = false;                   // the warm-up is over (never goes back)
  struct ParkedWrite {
    uint64_t conn_id;
    uint64_t hlc;
    std::vector<uint8_t> frame;  // a verified frame
  };
  std::vector<ParkedWrite> parked_;  // writes above the clock ceiling (see "Versions")
  struct Gather {
    uint64_t conn_id;
    uint64_t request_id;
    size_t request_bytes;
    uint32_t remaining;                       // parts still to come
    std::vector<std::vector<uint8_t>> parts;  // KeyVersionsResponse / FlushResponse frames
    wire::Message type;                       // the request gathered
  };
  uint64_t next_gather_id_ = 1;
  std::unordered_map<uint64_t, Gather> gathers_;  // KeyVersions requests being gathered
};

}  // namespace shoal::node
