#include "node/hints/node_session.h"

#include <unordered_map>

#include "node/hints/hint_wire.h"

namespace shoal::node::hints {

DeliveryOutcome OutcomeOfError(wire::ErrorCode code) {
  switch (code) {
    case wire::ErrorCode::BadRequest:
    case wire::ErrorCode::TooLarge:
      return DeliveryOutcome::kRejected;
    default:
      return DeliveryOutcome::kRetry;
  }
}

StatusOr<std::unique_ptr<HintSession>> NodeHintSession::Open(const std::string& target,
                                                             const HostPort& address,
                                                             const SessionConfig& config) {
  auto client = client::NodeClient::Connect(address, config.timeout_ms);
  if (!client.ok()) return client.status();
  auto hello =
      (*client)->Hello(config.cluster, config.self_id, config.secret, config.timeout_ms,
                       wire::PeerRole::Node, config.flush_mark ? config.flush_mark() : Version{});
  if (!hello.ok()) return hello.status();
  if (hello->node_id != target) {
    return Status::FailedPrecondition("node at " + address.ToString() + " is '" + hello->node_id +
                                      "', not the hint target '" + target + "'");
  }
  return std::unique_ptr<HintSession>(new NodeHintSession(std::move(*client), config.timeout_ms));
}

Status NodeHintSession::Deliver(std::span<const Hint> hints,
                                std::vector<DeliveryOutcome>* outcomes) {
  outcomes->assign(hints.size(), DeliveryOutcome::kRetry);
  std::unordered_map<uint64_t, size_t> index;
  out_.clear();
  for (size_t i = 0; i < hints.size(); ++i) {
    const uint64_t id = client_->NextRequestId();
    index.emplace(id, i);
    std::span<const uint8_t> frame = BuildReplayPutFrame(client_->builder(), id, hints[i]);
    out_.insert(out_.end(), frame.begin(), frame.end());
  }
  if (Status s = client_->Send(out_, timeout_ms_); !s.ok()) return s;
  if (out_.capacity() > (4u << 20)) std::vector<uint8_t>().swap(out_);
  for (size_t answered = 0; answered < hints.size();) {
    auto env = client_->Receive(timeout_ms_);
    if (!env.ok()) return env.status();
    auto it = index.find((*env)->request_id());
    if (it == index.end()) continue;  // not ours (cannot happen on a dedicated connection)
    DeliveryOutcome& outcome = (*outcomes)[it->second];
    switch ((*env)->message_type()) {
      case wire::Message::PutResponse:
        outcome = DeliveryOutcome::kDelivered;
        break;
      case wire::Message::Error:
        outcome = OutcomeOfError((*env)->message_as_Error()->code());
        break;
      default:
        outcome = DeliveryOutcome::kRetry;
        break;
    }
    index.erase(it);
    ++answered;
  }
  return Status::Ok();
}

}  // namespace shoal::node::hints
