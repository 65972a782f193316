#pragma once

// ReplySlot: one client command's place in the connection's in-order reply queue.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock/hlc.h"
#include "proxy/command/command_table.h"
#include "proxy/quorum/msetnx.h"
#include "proxy/resp/reply.h"

namespace shoal::proxy {

struct ReplySlot {
  CommandId command = CommandId::kPing;
  // The client's reply protocol when the command was read (a later HELLO does not change it).
  resp::Protocol protocol = resp::Protocol::kResp2;
  uint8_t variant = 0;             // KeyCommand::reply bits (proxy/command/key_commands.h)
  uint32_t request_bytes = 0;      // size of the command as received (for backpressure)
  bool done = false;               // `reply` is final
  uint32_t outstanding = 0;        // key operations not yet decided
  int64_t integer = 0;             // counts (DEL, EXISTS, TOUCH)
  std::string reply;               // RESP bytes
  std::vector<std::string> parts;  // per-key RESP fragments (MGET); LCS's two values
  std::string error;               // first error among the keys (without '-')
  int64_t extra[2] = {0, 0};       // KeyCommand::extra (GETRANGE's range, LCS's MINMATCHLEN)
  uint8_t phase = 0;               // RENAME, COPY, SMOVE, the STORE commands: which step runs
  std::unique_ptr<MSetNx> msetnx;  // MSETNX's phases and keys
  Version version;                 // RENAME*: the version its delete of the source is written at
  size_t held_bytes = 0;           // reply bytes counted against the client's output limit
  // Metrics (request_metrics.h): when the command was parsed (steady clock, ns), what it is
  // counted as, and whether it still is to be counted (once, when its reply is final).
  int64_t start_ns = 0;
  uint8_t metric_command = 0;
  uint8_t metric_consistency = 0;
  bool counted = false;
};

}  // namespace shoal::proxy
