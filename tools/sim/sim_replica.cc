#include "tools/sim/sim_replica.h"

#include "common/wire/version_wire.h"

namespace shoal::sim {

SimReplica::SimReplica(int index, int64_t clock_offset_ms, int64_t sim_now_ms)
    : index_(index), clock_offset_ms_(clock_offset_ms) {
  SetTime(sim_now_ms);
  RestartEmpty(0);
}

void SimReplica::RestartEmpty(int64_t warm_until_sim_ms) {
  executor_.reset();
  store_ = std::make_unique<node::ShardStore>(clock_, kMemoryLimit, kTombstoneGraceMs);
  executor_ = std::make_unique<node::RequestExecutor>(*store_);
  warm_until_ = warm_until_sim_ms;
}

std::vector<uint8_t> SimReplica::Handle(std::span<const uint8_t> request, int64_t sim_now_ms) {
  SetTime(sim_now_ms);
  DecodedFrame decoded;
  if (DecodeFrame(request.data(), request.size(), kDefaultMaxFrameBytes, &decoded) !=
      FrameStatus::kOk) {
    auto frame = node::BuildErrorFrame(out_, 0, wire::ErrorCode::BadRequest, "corrupt frame");
    return {frame.begin(), frame.end()};
  }
  const wire::Envelope& envelope = *decoded.envelope;
  node::KeyedRequest keyed;
  std::span<const uint8_t> frame;
  if (const char* error = node::ValidateKeyedRequest(envelope, &keyed)) {
    frame = node::BuildErrorFrame(out_, envelope.request_id(), wire::ErrorCode::BadRequest, error);
  } else if (sim_now_ms < warm_until_ && node::NotReadyRefuses(envelope)) {
    frame = node::BuildErrorFrame(out_, envelope.request_id(), wire::ErrorCode::NotReady,
                                  "warming up after an empty start");
  } else {
    frame = executor_->Execute(envelope, out_, sim_now_ms >= warm_until_);
  }
  return {frame.begin(), frame.end()};
}

ReplicaEntry SimReplica::Inspect(std::string_view key, int64_t sim_now_ms) {
  SetTime(sim_now_ms);
  auto& b = scratch_.Start();
  auto get = wire::CreateGet(b, Bytes(b, key), true);
  auto request = scratch_.Finish(next_id_++, wire::Message::Get, get.Union());
  std::vector<uint8_t> copy(request.begin(), request.end());
  DecodedFrame decoded;
  DecodeFrame(copy.data(), copy.size(), kDefaultMaxFrameBytes, &decoded);
  auto response = executor_->Execute(*decoded.envelope, out_);
  DecodedFrame reply;
  ReplicaEntry entry;
  if (DecodeFrame(response.data(), response.size(), kDefaultMaxFrameBytes, &reply) !=
      FrameStatus::kOk) {
    return entry;
  }
  const auto* r = reply.envelope->message_as_GetResponse();
  if (r == nullptr || !r->found()) return entry;
  entry.found = true;
  entry.tombstone = r->tombstone();
  entry.value = std::string(AsView(r->value()));
  entry.version = FromWire(r->version());
  entry.expiry_version = FromWire(r->expiry_version());
  entry.expire_at_ms = static_cast<int64_t>(r->expire_at_ms());
  return entry;
}

void SimReplica::WriteWhole(std::string_view key, const ReplicaEntry& entry, int64_t sim_now_ms) {
  SetTime(sim_now_ms);
  auto& b = scratch_.Start();
  const wire::Version version(entry.version.hlc, entry.version.writer);
  const Version ev = entry.EffectiveExpiryVersion();
  const wire::Version expiry_version(ev.hlc, ev.writer);
  auto put = wire::CreatePut(b, Bytes(b, key), Bytes(b, entry.value), &version,
                             static_cast<uint64_t>(entry.expire_at_ms), entry.tombstone,
                             wire::PutCondition::Always, false, false, &expiry_version);
  auto request = scratch_.Finish(next_id_++, wire::Message::Put, put.Union());
  std::vector<uint8_t> copy(request.begin(), request.end());
  DecodedFrame decoded;
  DecodeFrame(copy.data(), copy.size(), kDefaultMaxFrameBytes, &decoded);
  (void)executor_->Execute(*decoded.envelope, out_);
}

}  // namespace shoal::sim
