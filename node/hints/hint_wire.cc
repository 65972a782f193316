#include "node/hints/hint_wire.h"

#include <limits>

#include "common/typed/typed_value.h"
#include "common/wire/version_wire.h"

namespace shoal::node::hints {

namespace {

constexpr uint64_t kMaxExpireAtMs = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

}  // namespace

const char* ValidateHintPut(const wire::HintPut& hint_put, std::string_view self_id) {
  const flatbuffers::String* target = hint_put.target();
  if (target == nullptr || target->size() == 0) return "hint has no target";
  const std::string_view t = target->string_view();
  if (t.find('\0') != std::string_view::npos) return "hint target contains a NUL byte";
  if (t == self_id) return "hint targets this node itself: send it a Put";
  const wire::Put* put = hint_put.put();
  if (put == nullptr) return "hint has no put";
  if (put->key() == nullptr) return "hint put has no key";
  if (put->key()->size() > kMaxKeyBytes) return "key longer than 512 KiB";
  if (put->version() == nullptr) return "hint put has no version";
  if (const wire::Version* e = put->expiry_version(); e != nullptr &&
                                                      (e->hlc() != 0 || e->writer() != 0) &&
                                                      FromWire(*e) < FromWire(*put->version())) {
    return "expiry_version older than version";
  }
  if (put->expire_at_ms() > kMaxExpireAtMs) return "expire_at_ms out of range";
  if (put->condition() != wire::PutCondition::Always) {
    return "a conditional put (NX/XX) cannot be hinted";
  }
  if (put->keep_ttl()) return "a keep_ttl put cannot be hinted";
  if (put->value_type() != wire::ValueType::String) {
    if (put->value_type() > wire::ValueType::MAX) return "unsupported value type";
    if (!put->tombstone() &&
        !typed::ValidateBody(
             static_cast<typed::ValueType>(put->value_type()),
             std::string_view(reinterpret_cast<const char*>(
                                  put->value() != nullptr ? put->value()->data() : nullptr),
                              put->value() != nullptr ? put->value()->size() : 0))
             .ok()) {
      return "malformed typed value";
    }
  }
  return nullptr;
}

Hint HintFromWire(const wire::HintPut& hint_put) {
  const wire::Put& put = *hint_put.put();
  Hint h;
  h.target = hint_put.target()->str();
  h.key.assign(reinterpret_cast<const char*>(put.key()->data()), put.key()->size());
  h.tombstone = put.tombstone();
  if (!h.tombstone && put.value() != nullptr) {
    h.value.assign(reinterpret_cast<const char*>(put.value()->data()), put.value()->size());
  }
  h.version = FromWire(*put.version());
  const wire::Version* e = put.expiry_version();
  h.expiry_version =
      (e == nullptr || (e->hlc() == 0 && e->writer() == 0)) ? h.version : FromWire(*e);
  h.expire_at_ms = static_cast<int64_t>(put.expire_at_ms());
  if (!h.tombstone) h.value_type = static_cast<uint8_t>(put.value_type());
  return h;
}

std::span<const uint8_t> BuildHintAckFrame(FrameBuilder& builder, uint64_t request_id, bool stored,
                                           std::string_view reason) {
  auto& b = builder.Start();
  auto why = reason.empty() ? 0 : b.CreateString(reason.data(), reason.size());
  auto ack = wire::CreateHintAck(b, stored, why);
  return builder.Finish(request_id, wire::Message::HintAck, ack.Union());
}

std::span<const uint8_t> BuildReplayPutFrame(FrameBuilder& builder, uint64_t request_id,
                                             const Hint& hint) {
  auto& b = builder.Start();
  auto key = b.CreateVector(reinterpret_cast<const uint8_t*>(hint.key.data()), hint.key.size());
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> value = 0;
  if (!hint.tombstone) {
    value = b.CreateVector(reinterpret_cast<const uint8_t*>(hint.value.data()), hint.value.size());
  }
  const wire::Version version(hint.version.hlc, hint.version.writer);
  const wire::Version expiry_version(hint.expiry_version.hlc, hint.expiry_version.writer);
  auto put = wire::CreatePut(b, key, value, &version, static_cast<uint64_t>(hint.expire_at_ms),
                             hint.tombstone, wire::PutCondition::Always, /*keep_ttl=*/false,
                             /*want_previous=*/false, &expiry_version,
                             /*if_version_at_most=*/nullptr,
                             static_cast<wire::ValueType>(hint.value_type));
  return builder.Finish(request_id, wire::Message::Put, put.Union());
}

}  // namespace shoal::node::hints
