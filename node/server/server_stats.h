#pragma once

// Metrics of the node's network layer, one set of cells per shard thread (written only by that
// thread, summed when scraped or when Info asks: common/metrics/). Declared once here, with their
// Prometheus names and help text; Info reports each under its field name.

#include "common/metrics/registry.h"

namespace shoal::node {

// X(type, field, prometheus name, help)
#define SHOAL_NODE_SERVER_METRICS(X)                                                             \
  X(Gauge, connections, "shoal_node_connections", "Open connections (clients, proxies, peers).") \
  X(Gauge, buffer_bytes, "shoal_node_buffer_bytes",                                              \
    "Memory outside the store: connection buffers and batches (measured every second).")         \
  X(Counter, connections_accepted, "shoal_node_connections_accepted_total",                      \
    "Connections accepted since start.")                                                         \
  X(Counter, requests, "shoal_node_request_frames_total", "Request frames received.")            \
  X(Counter, cross_shard_requests, "shoal_node_cross_shard_requests_total",                      \
    "Requests handed to another shard's thread.")                                                \
  X(Counter, protocol_errors, "shoal_node_protocol_errors_total",                                \
    "Connections closed for a bad frame (corrupt, or no request id).")                           \
  X(Counter, frames_too_large, "shoal_node_frames_too_large_total",                              \
    "Frames over --max-frame-size: skipped, answered TooLarge.")                                 \
  X(Counter, bad_requests, "shoal_node_bad_requests_total",                                      \
    "Requests answered with Error BadRequest.")                                                  \
  X(Counter, unsupported_requests, "shoal_node_unsupported_requests_total",                      \
    "Requests of a type this node does not serve.")                                              \
  X(Counter, clock_skew_rejections, "shoal_node_clock_skew_rejections_total",                    \
    "Writes refused: version too far ahead of the local clock.")                                 \
  X(Counter, wrong_cluster, "shoal_node_wrong_cluster_total",                                    \
    "Hellos refused for naming another cluster.")                                                \
  X(Counter, not_ready_rejections, "shoal_node_not_ready_rejections_total",                      \
    "Gets and Touches answered NotReady during the warm-up or start-up sync.")                   \
  X(Counter, ceiling_waits, "shoal_node_ceiling_waits_total",                                    \
    "Writes parked until a clock ceiling above them was persisted.")                             \
  X(Counter, auth_failures, "shoal_node_auth_failures_total",                                    \
    "Connections closed: a request before Auth, or a wrong proof.")                              \
  X(Counter, accept_pauses, "shoal_node_accept_pauses_total",                                    \
    "Times a shard stopped accepting for a while: out of file descriptors or memory.")

struct ServerStats {
  SHOAL_NODE_SERVER_METRICS(SHOAL_METRIC_FIELD)
};

// Attaches one shard's cells (owner: `stats`) to `registry`.
inline void AttachServerStats(metrics::Registry& registry, const ServerStats& stats) {
  const void* owner = &stats;
  const metrics::Labels labels;
  SHOAL_NODE_SERVER_METRICS(SHOAL_METRIC_ATTACH)
}

}  // namespace shoal::node
