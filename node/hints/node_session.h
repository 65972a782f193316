#pragma once

// NodeHintSession: a HintSession over the node protocol (common/client/node_client.h): one
// blocking connection, used by the replay thread only. Open() connects, says Hello as a Node
// (with the cluster secret's proof when there is one) and checks the peer is the target it was
// meant for; Deliver() pipelines the hints as Puts and classifies every answer.

#include <functional>
#include <memory>
#include <string>

#include "common/client/node_client.h"
#include "common/config/options.h"
#include "node/hints/hint_replayer.h"

namespace shoal::node::hints {

struct SessionConfig {
  std::string cluster;
  std::string self_id;  // this node's id, the Hello's sender_id
  std::string secret;   // empty: no cluster secret
  int timeout_ms = 5'000;
  // This node's FLUSHALL marker, offered to the target in Hello: a target that missed the flush
  // adopts it before any hint arrives, and so refuses the hints older than it (optional).
  std::function<Version()> flush_mark;
};

class NodeHintSession final : public HintSession {
 public:
  static StatusOr<std::unique_ptr<HintSession>> Open(const std::string& target,
                                                     const HostPort& address,
                                                     const SessionConfig& config);
  Status Deliver(std::span<const Hint> hints, std::vector<DeliveryOutcome>* outcomes) override;

 private:
  NodeHintSession(std::unique_ptr<client::NodeClient> client, int timeout_ms)
      : client_(std::move(client)), timeout_ms_(timeout_ms) {}

  std::unique_ptr<client::NodeClient> client_;
  const int timeout_ms_;
  std::vector<uint8_t> out_;  // the pipelined frames of one Deliver
};

// How the replay treats a target's Error: BadRequest and TooLarge will never pass (kRejected);
// anything else may (kRetry).
DeliveryOutcome OutcomeOfError(wire::ErrorCode code);

}  // namespace shoal::node::hints
