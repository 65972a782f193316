#include "node/hints/hint_service.h"

namespace shoal::node::hints {

StatusOr<std::unique_ptr<HintService>> HintService::Open(HintServiceConfig config,
                                                         const Clock& clock,
                                                         HintWriter::Sink sink) {
  std::unique_ptr<HintService> service(new HintService());
  service->config_ = std::move(config);
  auto spool = HintSpool::Open(service->config_.dir, service->config_.spool, clock);
  if (!spool.ok()) return spool.status();
  service->spool_ = std::move(*spool);
  HintService* self = service.get();
  if (service->config_.ring != nullptr) {
    service->replayer_ = std::make_unique<HintReplayer>(
        *service->spool_, [self](const std::string& target) { return self->OpenSession(target); },
        clock, service->config_.replay);
  }
  service->writer_ = std::make_unique<HintWriter>(
      *service->spool_, [self, sink = std::move(sink)](std::span<const HintWriter::Result> r) {
        sink(r);
        if (self->replayer_ != nullptr) self->replayer_->Wake();
      });
  return service;
}

HintService::~HintService() { Stop(); }

void HintService::AttachMetrics(metrics::Registry& registry, const void* owner) const {
  const metrics::Labels labels;
  {
    const auto& stats = writer_->stats();
    SHOAL_HINT_WRITER_METRICS(SHOAL_METRIC_ATTACH)
  }
  {
    const auto& stats = writer_->spool_counters();
    SHOAL_HINT_SPOOL_METRICS(SHOAL_METRIC_ATTACH)
  }
  if (replayer_ == nullptr) return;
  {
    const auto& stats = replayer_->stats();
    SHOAL_HINT_REPLAY_METRICS(SHOAL_METRIC_ATTACH)
  }
  const auto& stats = replayer_->spool_counters();
  SHOAL_HINT_SPOOL_METRICS(SHOAL_METRIC_ATTACH)
}

void HintService::Start() {
  writer_->Start();
  if (replayer_ != nullptr) replayer_->Start();
}

void HintService::Stop() {
  if (writer_ != nullptr) writer_->Stop();
  if (replayer_ != nullptr) replayer_->Stop();
}

StatusOr<std::unique_ptr<HintSession>> HintService::OpenSession(const std::string& target) {
  const RingPtr ring = config_.ring();
  const int index = ring->IndexOf(target);
  if (index < 0) return Status::NotFound("'" + target + "' is not a member of this node's cluster");
  auto address = ParseHostPort(ring->members()[index].address);
  if (!address.ok()) return address.status();
  return NodeHintSession::Open(target, *address, config_.session);
}

}  // namespace shoal::node::hints
