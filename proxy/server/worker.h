#pragma once

// Worker: one proxy thread with its own libevent loop, its own client connections and its own
// pipelined links to every node (Envoy's per-worker model). Nothing here is shared with other
// workers except SharedState; no lock is taken on the request path.
//
// Batching: work done while handling events (replies to clients, requests to nodes) is buffered
// and written by one "flush" event per loop iteration, queued behind that iteration's I/O
// events, so that many client requests share one write to a node and many node replies share
// one write to a client.

#include <event2/event.h>

#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/wire/frame.h"
#include "proxy/quorum/consistency.h"
#include "proxy/server/fanout.h"
#include "proxy/server/key_op.h"
#include "proxy/server/request_metrics.h"
#include "proxy/server/shared_state.h"
#include "proxy/upstream/node_link.h"

namespace shoal::proxy {

class ClientConnection;

class Worker final : public NodeLinkListener {
 public:
  // `listen_fds`: listening sockets this worker accepts on (it does not own them).
  Worker(int index, SharedState& shared, std::vector<int> listen_fds);
  ~Worker() override;

  // Starts the thread. Ready() turns true once every node link settled (or the start-up wait
  // passed) and the worker accepts clients.
  void Start();
  // Thread-safe: asks the loop to exit; Join() waits for it.
  void Stop();
  void Join();
  bool Ready() const { return ready_.load(std::memory_order_acquire); }

  // ---- for ClientConnection (worker thread only) ----
  // Starts one key's operation (`plan` without n/required/value_replica, which the worker fills
  // in from the ring and `level`); calls client.OnKeyDecided(slot, key_index, ...) exactly once,
  // possibly before returning. `plan.value` and `key` need only live for the call.
  void StartKeyOp(ClientConnection& client, ReplySlot& slot, uint32_t key_index,
                  std::string_view key, Consistency level, KeyPlan plan);
  // Sends each request to its member and hands the answers to `handler` (fanout.h). At most 255
  // requests per call. OnReply/OnDone may run before this returns (nodes known down).
  void Fanout(std::unique_ptr<FanoutHandler> handler, std::span<const FanoutRequest> requests);
  // The smallest request frame any node advertised in its handshake (UINT64_MAX while none has
  // answered yet): a write whose Put frame would be larger is refused before it is sent.
  uint64_t SmallestNodeFrameLimit() const;
  // The PN-counter writer id of client connection `client_id` of this process (docs/data-model.md:
  // one component per connection, whose increments are serialised): a mix of the process's
  // random writer id and the connection id, so no two connections of any proxies share one.
  uint64_t CounterWriter(uint64_t client_id) const;
  void MarkClientDirty(ClientConnection& client);
  void RetireClient(ClientConnection& client);
  SharedState& shared() { return shared_; }
  event_base* base() { return base_.get(); }
  const ProxyConfig& config() const { return shared_.config; }
  const RuntimeSettings& settings() const { return shared_.settings; }
  // The routing snapshot this worker uses (refreshed between events when a new one is published,
  // and by RefreshView).
  const ClusterView& view() const { return *view_; }
  // Takes the directory's newest view if it changed, and opens links to new slots.
  void RefreshView();
  const Ring& ring() const { return *view_->ring; }
  WorkerStats& stats() { return stats_; }
  RequestMetrics& request_metrics() { return request_metrics_; }
  // Wall and monotonic time in ms, read once per loop iteration (the cache is cleared when the
  // iteration's work is flushed): requests need millisecond precision, not a clock read each.
  int64_t NowMs() {
    if (!time_cached_) CacheTime();
    return cached_wall_ms_;
  }
  int64_t MonotonicMs() {
    if (!time_cached_) CacheTime();
    return cached_monotonic_ms_;
  }

  // ---- NodeLinkListener ----
  void OnNodeResponse(const PendingRef& ref, const wire::Envelope& envelope) override;
  void OnNodeFailure(const PendingRef& ref) override;
  void OnNodeSettled(int slot, bool up) override;
  void OnLinkDirty(NodeLink& link) override;

 private:
  void Run();
  void SetUpLoop();
  void EnableAccept();
  void OnAccept(int listen_fd);
  void PauseAccepting(const char* reason);
  void OnFlush();
  void OnTick();
  void ScheduleFlush();
  void CacheTime();
  void AddLinks();

  KeyOp* AcquireOp();
  // The op a node answer is for, or nullptr when that op has finished since.
  KeyOp* FindOp(const PendingRef& ref);
  KeyOp* LiveOp(uint32_t index, uint32_t generation);
  // Feeds a node's answer (nullptr: failure or timeout) for request `tag` to the op's machine.
  void ReplicaDone(KeyOp& op, uint8_t tag, const wire::Envelope* envelope);
  // Sends what the machine asks for, delivers its answer, and repairs and releases the op once it
  // finished. Returns true when the op was released (it may be freed: do not touch it after).
  bool Advance(KeyOp& op);
  // Gives the op's client its answer (if it still has one) and takes back what was charged to it.
  void Decide(KeyOp& op);
  void SendRequests(KeyOp& op, std::span<const NodeRequest> requests);
  void SendRepairs(KeyOp& op);
  void LinkDeadline(KeyOp& op);
  void UnlinkDeadline(KeyOp& op);
  void ReleaseOp(KeyOp& op);
  void AddMachineStats(const KeyOperation& machine);
  // worker_fanout.cc: an answer (nullptr: a failure) to a fan-out request.
  void FanoutReplied(const PendingRef& ref, const wire::Envelope* envelope);

  static void OnAcceptEvent(evutil_socket_t fd, short what, void* arg);
  static void OnFlushEvent(evutil_socket_t fd, short what, void* arg);
  static void OnTickEvent(evutil_socket_t fd, short what, void* arg);
  static void OnStopEvent(evutil_socket_t fd, short what, void* arg);
  static void OnReadyTimeout(evutil_socket_t fd, short what, void* arg);
  static void OnAcceptResume(evutil_socket_t fd, short what, void* arg);

  const int index_;
  SharedState& shared_;
  std::vector<int> listen_fds_;
  WorkerStats& stats_;
  RequestMetrics request_metrics_;
  std::thread thread_;
  std::atomic<bool> ready_{false};

  std::unique_ptr<event_base, decltype(&event_base_free)> base_{nullptr, &event_base_free};
  std::vector<std::unique_ptr<event, decltype(&event_free)>> accept_events_;
  std::unique_ptr<event, decltype(&event_free)> flush_event_{nullptr, &event_free};
  std::unique_ptr<event, decltype(&event_free)> tick_event_{nullptr, &event_free};
  std::unique_ptr<event, decltype(&event_free)> stop_event_{nullptr, &event_free};
  std::unique_ptr<event, decltype(&event_free)> ready_timer_{nullptr, &event_free};
  std::unique_ptr<event, decltype(&event_free)> accept_resume_timer_{nullptr, &event_free};
  int64_t last_accept_warning_ms_ = INT64_MIN / 2;
  bool flush_scheduled_ = false;
  bool time_cached_ = false;
  int64_t cached_wall_ms_ = 0;
  int64_t cached_monotonic_ms_ = 0;
  int unsettled_links_ = 0;

  ClusterViewPtr view_;
  NodeLinkOptions link_options_;
  std::vector<std::unique_ptr<NodeLink>> links_;  // by slot (cluster_view.h)
  std::vector<NodeLink*> dirty_links_;
  std::unordered_map<ClientConnection*, std::unique_ptr<ClientConnection>> clients_;
  std::vector<ClientConnection*> dirty_clients_;
  std::vector<ClientConnection*> retired_clients_;
  std::vector<NodeLink*> flushing_links_;            // scratch for OnFlush
  std::vector<ClientConnection*> flushing_clients_;  // scratch for OnFlush

  // Key operations: a pool, and the in-flight ones in deadline order.
  // Key operations are addressed by slot index + generation (PendingRef), never by pointer, so
  // that records beyond kMaxIdleOps can be freed after a burst.
  struct OpSlot {
    std::unique_ptr<KeyOp> op;     // null when freed
    uint32_t next_generation = 0;  // for the next record created in this slot
  };
  std::vector<OpSlot> op_slots_;
  std::vector<uint32_t> empty_op_slots_;  // slots whose record was freed
  std::vector<KeyOp*> free_ops_;          // idle records, ready for reuse
  KeyOp* deadline_head_ = nullptr;
  KeyOp* deadline_tail_ = nullptr;

  // Fan-outs in flight (fanout.h), addressed like key ops by index + generation; their
  // PendingRef::owner carries kFanoutOwnerBit.
  static constexpr uint32_t kFanoutOwnerBit = 0x80000000u;
  struct FanoutOp {
    uint32_t generation = 0;
    bool in_use = false;
    size_t pending = 0;
    std::vector<bool> waiting;  // by request index
    std::vector<int> members;   // by request index: the ring member asked (metrics)
    std::unique_ptr<FanoutHandler> handler;
  };
  std::vector<std::unique_ptr<FanoutOp>> fanouts_;
  std::vector<uint32_t> free_fanouts_;

  FrameBuilder frame_builder_;
  FrameBuilder repair_builder_;
  uint32_t value_rotation_ = 0;  // which replica a read asks for the value (KeyPlan::value_replica)

  // Read-repairs sent recently, so that a hot key read many times while a replica is stale is
  // repaired once per pair and replica, not once per read (#8). Entries older than the timeout
  // no longer suppress anything; the map is pruned when its keys pass kMaxRecentRepairBytes.
  struct RecentRepair {
    Version version;
    Version expiry_version;
    uint32_t replicas = 0;  // bit r: replica r was sent this pair
    int64_t sent_ms = 0;
  };
  std::unordered_map<std::string, RecentRepair> recent_repairs_;
  size_t recent_repair_bytes_ = 0;  // key bytes in recent_repairs_
};

}  // namespace shoal::proxy
