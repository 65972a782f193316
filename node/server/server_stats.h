#pragma once

// Counters of the node's network layer, one set per shard thread (written only by that thread,
// read by anyone: relaxed atomics whose increments compile to plain loads and stores), summed
// when Info asks. Declared once here, with their help text.

#include <atomic>
#include <cstdint>

namespace shoal::node {

// X(name, help)
#define SHOAL_NODE_SERVER_STATS(X)                                                      \
  X(connections, "open connections (gauge)")                                            \
  X(buffer_bytes, "memory outside the store: connection buffers, batches (gauge, 1 s)") \
  X(connections_accepted, "connections accepted since start")                           \
  X(requests, "request frames received")                                                \
  X(cross_shard_requests, "requests handed to another shard's thread")                  \
  X(protocol_errors, "connections closed for a bad frame (corrupt, or no request id)")  \
  X(frames_too_large, "frames over --max-frame-size: skipped, answered TooLarge")       \
  X(bad_requests, "requests answered with Error BadRequest")                            \
  X(unsupported_requests, "requests of a type this node does not serve")                \
  X(clock_skew_rejections, "writes refused: version too far ahead of the local clock")  \
  X(wrong_cluster, "Hellos refused for naming another cluster")                         \
  X(not_ready_rejections, "Gets and Touches answered NotReady during the warm-up")      \
  X(ceiling_waits, "writes parked until a clock ceiling above them was persisted")      \
  X(auth_failures, "connections closed: a request before Auth, or a wrong proof")       \
  X(accept_pauses, "times a shard stopped accepting for a while: out of fds or memory")

class StatCounter {
 public:
  // Owner thread only.
  void Add(int64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + static_cast<uint64_t>(n),
                 std::memory_order_relaxed);
  }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct ServerStats {
#define SHOAL_DECLARE_STAT(name, help) StatCounter name;
  SHOAL_NODE_SERVER_STATS(SHOAL_DECLARE_STAT)
#undef SHOAL_DECLARE_STAT
};

}  // namespace shoal::node
