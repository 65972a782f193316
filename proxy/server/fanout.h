#pragma once

// Fan-out commands (FLUSHALL, and the keyspace commands that ask every node): one request to each
// of some ring members, one handler that hears every answer.
//
// Worker::Fanout sends each request on its member's link and owns the handler until every request
// has been answered, has failed or has timed out (each request times out on its link, after
// --timeout-ms). The handler hears OnReply exactly once per request (`envelope` nullptr: failure,
// timeout or a node known down), then OnDone once, which receives the handler's ownership: it may
// start another round (Worker::Fanout again, passing itself on) or let itself be destroyed.
//
// Worker thread only. A handler that answers a client must keep the client alive meanwhile
// (ClientConnection::BeginFanout / EndFanout).

#include <cstdint>
#include <memory>
#include <span>

#include "schemas/shoal_generated.h"

namespace shoal::proxy {

class Worker;

struct FanoutRequest {
  int member = 0;                  // ring member index
  std::span<const uint8_t> frame;  // built with request id 1 (patched per link); copied at once
};

class FanoutHandler {
 public:
  virtual ~FanoutHandler() = default;
  // Request `index` (its position in the Fanout call) was answered; nullptr: it failed.
  virtual void OnReply(size_t index, const wire::Envelope* envelope) = 0;
  virtual void OnDone(Worker& worker, std::unique_ptr<FanoutHandler> self) = 0;
};

}  // namespace shoal::proxy
