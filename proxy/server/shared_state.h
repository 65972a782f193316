#pragma once

// State shared by all workers: read-only after start-up, or atomic.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "common/metrics/registry.h"
#include "common/ring/ring.h"
#include "proxy/server/cluster_view.h"
#include "proxy/server/proxy_config.h"
#include "proxy/server/runtime_settings.h"
#include "proxy/upstream/node_link.h"

namespace shoal::proxy {

// Per-worker metric cells: written by the owner worker thread only, summed when scraped or when
// INFO asks (common/metrics/). X(type, field, prometheus name, help); INFO's names are in
// commands_connection.cc.
#define SHOAL_PROXY_METRICS(X)                                                                    \
  X(Gauge, connected_clients, "shoal_proxy_client_connections", "Open client connections.")       \
  X(Counter, connections_received, "shoal_proxy_client_connections_accepted_total",               \
    "Client connections accepted.")                                                               \
  X(Counter, commands_processed, "shoal_proxy_commands_processed_total",                          \
    "Client commands executed.")                                                                  \
  X(Counter, protocol_errors, "shoal_proxy_protocol_errors_total",                                \
    "Client connections closed for malformed RESP.")                                              \
  X(Counter, noquorum_errors, "shoal_proxy_quorum_failures_total", "Commands answered NOQUORUM.") \
  X(Counter, read_repairs, "shoal_proxy_read_repairs_total",                                      \
    "Repair writes sent to stale replicas.")                                                      \
  X(Counter, read_repairs_deduplicated, "shoal_proxy_read_repairs_deduplicated_total",            \
    "Repairs skipped: the same state was just sent to that replica.")                             \
  X(Counter, not_ready_replies, "shoal_proxy_not_ready_replies_total",                            \
    "NotReady answers (and puts applied) by warming-up nodes: never counted toward quorum.")      \
  X(Counter, hlc_refusals, "shoal_proxy_hlc_refusals_total",                                      \
    "Versions in node replies refused by the clock (too far ahead).")                             \
  X(Counter, stale_write_retries, "shoal_proxy_stale_write_retries_total",                        \
    "Writes refused as stale by every replica, re-stamped and resent.")                           \
  X(Counter, client_pauses, "shoal_proxy_client_pauses_total",                                    \
    "Times a client was paused for pipelining faster than nodes answer.")                         \
  X(Counter, accept_pauses, "shoal_proxy_accept_pauses_total",                                    \
    "Times accepting stopped for lack of file descriptors or memory.")                            \
  X(Counter, client_query_buffer_limit_disconnections,                                            \
    "shoal_proxy_client_query_buffer_limit_disconnections_total",                                 \
    "Clients closed for a command larger than --client-query-buffer-limit.")                      \
  X(Counter, client_output_buffer_limit_disconnections,                                           \
    "shoal_proxy_client_output_buffer_limit_disconnections_total",                                \
    "Clients closed for holding more replies than --client-output-buffer-limit.")                 \
  X(Counter, hinted_writes, "shoal_proxy_hinted_writes_total",                                    \
    "Hints sent: writes that failed at an owner, sent to a fallback node.")                       \
  X(Counter, hint_acks, "shoal_proxy_hint_acks_total", "Hints a fallback node stored durably.")   \
  X(Counter, hint_refusals, "shoal_proxy_hint_refusals_total",                                    \
    "Hints a fallback node refused (spool full or hints off).")                                   \
  X(Counter, sloppy_acks, "shoal_proxy_sloppy_acks_total",                                        \
    "Stored hints counted toward a write's consistency level (sloppy).")

// Per worker and node: the worker's requests to that node (label node=<member id>).
#define SHOAL_PROXY_UPSTREAM_METRICS(X)                                                   \
  X(Counter, requests, "shoal_proxy_upstream_requests_total", "Requests sent to a node.") \
  X(Counter, failures, "shoal_proxy_upstream_failures_total",                             \
    "Node requests that failed: error, connection failure or timeout.")                   \
  X(Counter, timeouts, "shoal_proxy_upstream_timeouts_total",                             \
    "Node requests that passed --timeout-ms (part of the failures).")                     \
  X(Gauge, connections, "shoal_proxy_upstream_connections",                               \
    "Open connections to a node (one per worker when up; updated every tick).")

struct UpstreamStats {
  SHOAL_PROXY_UPSTREAM_METRICS(SHOAL_METRIC_FIELD)
  HandshakeRefusals refusals;  // written by the worker's link to the node (node_link.h)
};

inline constexpr char kHandshakeRefusalsMetric[] = "shoal_proxy_upstream_handshake_refusals_total";

struct WorkerStats {
  SHOAL_PROXY_METRICS(SHOAL_METRIC_FIELD)
  std::vector<std::unique_ptr<UpstreamStats>> upstream;  // index = slot (cluster_view.h)
};

// Attaches one worker's cells (owner: `stats`) to `registry`. Its per-node cells are attached
// by the worker itself as it opens links (AttachUpstreamStats).
inline void AttachWorkerStats(metrics::Registry& registry, WorkerStats& stats) {
  const void* owner = &stats;
  const metrics::Labels labels;
  SHOAL_PROXY_METRICS(SHOAL_METRIC_ATTACH)
}

// Appends the cells for the node of the next slot (cluster_view.h), labelled `node_id`, to
// `stats.upstream` (whose index is the slot). Owner worker thread only.
inline void AttachUpstreamStats(metrics::Registry& registry, WorkerStats& worker,
                                const std::string& node_id) {
  worker.upstream.push_back(std::make_unique<UpstreamStats>());
  const UpstreamStats& stats = *worker.upstream.back();
  const void* owner = &stats;
  const metrics::Labels labels = {{"node", node_id}};
  SHOAL_PROXY_UPSTREAM_METRICS(SHOAL_METRIC_ATTACH)
#define SHOAL_ATTACH_HANDSHAKE_REFUSAL(field, reason, what)                                   \
  registry.AttachCounter(kHandshakeRefusalsMetric,                                            \
                         "Nodes refused at the handshake: answered as another member or "     \
                         "cluster (identity), or without the cluster secret's proof (auth).", \
                         {{"node", node_id}, {"reason", reason}}, stats.refusals.field, owner);
  SHOAL_PROXY_HANDSHAKE_REFUSALS(SHOAL_ATTACH_HANDSHAKE_REFUSAL)
#undef SHOAL_ATTACH_HANDSHAKE_REFUSAL
}

class MemberFollower;

struct SharedState {
  SharedState(ProxyConfig cfg, const Clock& c)
      : config(std::move(cfg)), clock(c), settings(config), hlc(c, config.max_clock_offset_ms) {}

  const ProxyConfig config;  // as started; what a reload changes is in `settings`
  // The ring snapshots and every node's slot and health (cluster_view.h): one view published
  // before the workers start (--nodes), then each membership change (--seeds).
  ClusterDirectory directory;
  // With --seeds: the thread following the member table (SHOAL.MEMBERS reads its last listing);
  // nullptr with --nodes. Set before the workers start.
  MemberFollower* follower = nullptr;
  const Clock& clock;
  RuntimeSettings settings;  // the reloadable values (runtime_settings.h)
  HybridLogicalClock hlc;
  std::atomic<uint64_t> next_client_id{1};
  // The greatest FLUSHALL marker known (proxy/upstream/flush_mark.h): offered to every node.
  KnownFlushMark known_flush;
  int64_t start_ms = 0;
  int tcp_port = 0;
  std::vector<std::unique_ptr<WorkerStats>> worker_stats;  // index = worker; fixed at start
  // The proxy's metrics (common/metrics/): every worker's cells, attached at start-up.
  metrics::Registry metrics;
};

}  // namespace shoal::proxy
