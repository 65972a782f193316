#pragma once

// RequestMetrics: one worker's per-command metrics (owner: the worker's thread).
//
//   shoal_proxy_requests_total{command, consistency, result}
//       command: the Redis command name ("get", ...), "unknown" for commands Shoal does not know;
//       consistency: the level a key command ran at ("one", "quorum", "all"; "none" for
//       connection commands); result: "ok", "error" (any error reply), "noquorum".
//   shoal_proxy_request_duration_seconds{class}
//       from the command's parsing to its reply being final; class: "read", "write" (key
//       commands) or "other".
//
// Series appear on first use (metrics::LazyCells). Protocol errors are counted elsewhere
// (shoal_proxy_protocol_errors_total), not as requests.

#include <cstdint>
#include <string_view>

#include "common/metrics/lazy_cells.h"
#include "proxy/command/command_table.h"
#include "proxy/quorum/consistency.h"

namespace shoal::proxy {

class RequestMetrics {
 public:
  // What a slot remembers of its command when it is created (see ReplySlot).
  static constexpr uint8_t kNoConsistency = 3;  // index past Consistency's three levels
  static constexpr uint8_t kUnknownCommand = 255;

  explicit RequestMetrics(metrics::Registry& registry);

  // The consistency index a command runs at, given the connection's levels.
  static uint8_t ConsistencyOf(CommandId command, Consistency read, Consistency write);
  // `command`: a CommandId value or kUnknownCommand; `reply`: the final RESP reply.
  void Record(uint8_t command, uint8_t consistency, std::string_view reply, double seconds);

 private:
  metrics::LazyCells<metrics::Counter> requests_;
  metrics::LazyCells<metrics::Histogram> latency_;
};

}  // namespace shoal::proxy
