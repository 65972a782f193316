#pragma once

// State shared by all workers: read-only after start-up, or atomic.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "common/ring/ring.h"
#include "proxy/server/proxy_config.h"
#include "proxy/upstream/node_link.h"

namespace shoal::proxy {

// Per-worker counters: written by the owner thread only (relaxed), summed on read.
#define SHOAL_PROXY_STATS(X)                                                                     \
  X(connections_received, "client connections accepted")                                         \
  X(commands_processed, "client commands executed")                                              \
  X(protocol_errors, "client connections closed for malformed RESP")                             \
  X(noquorum_errors, "commands answered NOQUORUM")                                               \
  X(node_requests, "requests sent to nodes")                                                     \
  X(node_failures, "node requests that failed or timed out")                                     \
  X(read_repairs, "repair writes sent to stale replicas")                                        \
  X(read_repairs_deduplicated, "repairs skipped: the same state was just sent to that replica")  \
  X(not_ready_replies, "NotReady answers (and puts applied) by warming-up nodes: never counted") \
  X(hlc_refusals, "versions in node replies refused by the clock (too far ahead)")               \
  X(stale_write_retries, "writes refused as stale by every replica, re-stamped and resent")      \
  X(client_pauses, "times a client was paused for pipelining faster than nodes answer")          \
  X(accept_pauses, "times accepting stopped for lack of file descriptors or memory")             \
  X(client_query_buffer_limit_disconnections,                                                    \
    "clients closed for a command larger than --client-query-buffer-limit")                      \
  X(client_output_buffer_limit_disconnections,                                                   \
    "clients closed for holding more replies than --client-output-buffer-limit")                 \
  X(node_request_timeouts, "node requests that passed --timeout-ms")                             \
  X(hinted_writes, "hints sent: writes that failed at an owner, sent to a fallback node")        \
  X(hint_acks, "hints a fallback node stored durably")                                           \
  X(hint_refusals, "hints a fallback node refused (spool full or hints off)")                    \
  X(sloppy_acks, "stored hints counted toward a write's consistency level (sloppy)")

struct WorkerStats {
#define SHOAL_DECLARE_STAT(name, help) std::atomic<uint64_t> name{0};
  SHOAL_PROXY_STATS(SHOAL_DECLARE_STAT)
#undef SHOAL_DECLARE_STAT
  std::atomic<int64_t> connected_clients{0};
};

inline void Bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct SharedState {
  SharedState(ProxyConfig cfg, RingPtr r, const Clock& c)
      : config(std::move(cfg)),
        ring(std::move(r)),
        clock(c),
        hlc(c, config.max_clock_offset_ms),
        health(ring->members().size()) {}

  const ProxyConfig config;
  const RingPtr ring;  // static membership for now; later swapped as a snapshot
  const Clock& clock;
  HybridLogicalClock hlc;
  std::vector<NodeHealth> health;  // per ring member
  std::atomic<uint64_t> next_client_id{1};
  int64_t start_ms = 0;
  int tcp_port = 0;
  std::vector<std::unique_ptr<WorkerStats>> worker_stats;
};

}  // namespace shoal::proxy
