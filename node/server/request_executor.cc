#include "node/server/request_executor.h"

#include <limits>
#include <string>

#include "common/typed/typed_value.h"
#include "common/wire/version_wire.h"

namespace shoal::node {

namespace {

// `c` is known (ValidateKeyedRequest refuses the others).
PutCondition FromWire(wire::PutCondition c) {
  switch (c) {
    case wire::PutCondition::IfAbsent:
      return PutCondition::kIfAbsent;
    case wire::PutCondition::IfPresent:
      return PutCondition::kIfPresent;
    case wire::PutCondition::Always:
      break;
  }
  return PutCondition::kAlways;
}

const char* CheckKey(const flatbuffers::Vector<uint8_t>* key) {
  if (key == nullptr) return "request has no key";
  if (key->size() > kMaxKeyBytes) return "key longer than 512 KiB";
  return nullptr;
}

constexpr uint64_t kMaxExpireAtMs = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

}  // namespace

const char* ValidateKeyedRequest(const wire::Envelope& envelope, KeyedRequest* out) {
  switch (envelope.message_type()) {
    case wire::Message::Get: {
      const auto* get = envelope.message_as_Get();
      if (const char* err = CheckKey(get->key())) return err;
      out->key = AsView(get->key());
      out->version = nullptr;
      return nullptr;
    }
    case wire::Message::Put: {
      const auto* put = envelope.message_as_Put();
      if (const char* err = CheckKey(put->key())) return err;
      if (put->version() == nullptr) return "put has no version";
      // expiry_version absent or zero means "the same as version"; otherwise it is never older.
      if (const wire::Version* e = put->expiry_version();
          e != nullptr && (e->hlc() != 0 || e->writer() != 0) &&
          FromWire(*e) < FromWire(*put->version())) {
        return "expiry_version older than version";
      }
      if (put->expire_at_ms() > kMaxExpireAtMs) return "expire_at_ms out of range";
      // A condition this node does not know must not be dropped (the put would apply
      // unconditionally): refuse it, as Touch does.
      if (put->condition() > wire::PutCondition::MAX) return "unknown put condition";
      // Typed values (docs/data-model.md): counters, hashes and sets, their bodies validated.
      if (put->value_type() != wire::ValueType::String) {
        if (put->value_type() > wire::ValueType::MAX) return "unsupported value type";
        if (!put->tombstone() &&
            !typed::ValidateBody(static_cast<typed::ValueType>(put->value_type()),
                                 AsView(put->value()))
                 .ok()) {
          return "malformed typed value";
        }
      }
      out->key = AsView(put->key());
      out->version = put->version();
      return nullptr;
    }
    case wire::Message::Touch: {
      const auto* touch = envelope.message_as_Touch();
      if (const char* err = CheckKey(touch->key())) return err;
      if (touch->version() == nullptr) return "touch has no version";
      if (touch->expire_at_ms() > kMaxExpireAtMs) return "expire_at_ms out of range";
      if (touch->condition() > wire::TouchCondition::MAX) return "unknown touch condition";
      out->key = AsView(touch->key());
      out->version = touch->version();
      return nullptr;
    }
    default:
      return "not a keyed request";
  }
}

std::span<const uint8_t> BuildErrorFrame(FrameBuilder& builder, uint64_t request_id,
                                         wire::ErrorCode code, std::string_view message) {
  auto& b = builder.Start();
  auto msg = b.CreateString(message.data(), message.size());
  auto err = wire::CreateError(b, code, msg);
  return builder.Finish(request_id, wire::Message::Error, err.Union());
}

bool NotReadyRefuses(const wire::Envelope& envelope) {
  if (envelope.message_type() != wire::Message::Put) return true;
  const wire::Put* put = envelope.message_as_Put();
  return put != nullptr && put->if_version_at_most() != nullptr;
}

std::span<const uint8_t> RequestExecutor::Execute(const wire::Envelope& envelope,
                                                  FrameBuilder& builder, bool ready) {
  const uint64_t id = envelope.request_id();
  switch (envelope.message_type()) {
    case wire::Message::Get:
      return ExecuteGet(id, *envelope.message_as_Get(), builder);
    case wire::Message::Put:
      return ExecutePut(id, *envelope.message_as_Put(), builder, ready);
    case wire::Message::Touch:
      return ExecuteTouch(id, *envelope.message_as_Touch(), builder);
    default:
      return BuildErrorFrame(builder, id, wire::ErrorCode::Internal,
                             "not a keyed request (node bug)");
  }
}

std::span<const uint8_t> RequestExecutor::ExecuteGet(uint64_t id, const wire::Get& get,
                                                     FrameBuilder& builder) {
  const GetResult r = store_.Get(AsView(get.key()));
  auto& b = builder.Start();
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> value = 0;
  const bool typed_value = r.found && !r.tombstone && r.value_type != typed::ValueType::kString;
  if (r.found && !r.tombstone && (get.want_value() || (typed_value && get.want_typed_value()))) {
    value = Bytes(b, r.value);
  }
  const wire::Version version = wire::ToWire(r.version);
  const wire::Version expiry_version = wire::ToWire(r.expiry_version);
  const wire::Version floor_version = wire::ToWire(r.floor_version);
  const wire::Version floor_expiry_version = wire::ToWire(r.floor_expiry_version);
  const bool floor = !r.found && !r.floor_version.IsZero();
  auto resp = wire::CreateGetResponse(
      b, r.found, r.found && r.tombstone, value, r.found ? &version : nullptr,
      static_cast<uint64_t>(r.expire_at_ms), r.found ? &expiry_version : nullptr,
      floor ? &floor_version : nullptr, floor ? &floor_expiry_version : nullptr,
      typed_value ? static_cast<wire::ValueType>(r.value_type) : wire::ValueType::String,
      typed_value ? typed::BodyDigest(r.value_type, r.value) : 0);
  return builder.Finish(id, wire::Message::GetResponse, resp.Union());
}

std::span<const uint8_t> RequestExecutor::ExecutePut(uint64_t id, const wire::Put& put,
                                                     FrameBuilder& builder, bool ready) {
  PutRequest req;
  req.key = AsView(put.key());
  req.tombstone = put.tombstone();
  if (!req.tombstone) req.value = AsView(put.value());
  req.version = FromWire(*put.version());
  if (put.expiry_version() != nullptr) req.expiry_version = FromWire(*put.expiry_version());
  req.expire_at_ms = static_cast<int64_t>(put.expire_at_ms());
  req.condition = FromWire(put.condition());
  req.keep_ttl = put.keep_ttl();
  req.want_previous = put.want_previous();
  req.value_type = static_cast<typed::ValueType>(put.value_type());
  if (put.if_version_at_most() != nullptr) {
    req.has_if_version_at_most = true;
    req.if_version_at_most = FromWire(*put.if_version_at_most());
  }
  const PutResult r = store_.Put(req);
  if (r.status == ApplyStatus::kTooLarge) {
    char message[160];
    const int n = snprintf(
        message, sizeof(message),
        "entry of %zu bytes is larger than the largest this shard holds (%llu bytes: 1/%llu of "
        "its %llu-byte memory limit, less %llu bytes of overhead)",
        req.key.size() + req.value.size(),
        static_cast<unsigned long long>(store_.max_entry_bytes() - ShardStore::kEntryOverhead),
        static_cast<unsigned long long>(ShardStore::kMaxEntryDivisor),
        static_cast<unsigned long long>(store_.memory_limit()),
        static_cast<unsigned long long>(ShardStore::kEntryOverhead));
    return BuildErrorFrame(builder, id, wire::ErrorCode::TooLarge, std::string_view(message, n));
  }
  auto& b = builder.Start();
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> previous = 0;
  if (req.want_previous && r.previous_found) previous = Bytes(b, r.previous_value);
  const wire::Version current = wire::ToWire(r.current);
  const wire::Version previous_version = wire::ToWire(r.previous_version);
  const wire::Version current_expiry_version = wire::ToWire(r.current_expiry_version);
  auto resp = wire::CreatePutResponse(
      b, r.status == ApplyStatus::kApplied, r.status == ApplyStatus::kConditionFailed, &current,
      r.previous_found, previous, &previous_version, static_cast<uint64_t>(r.previous_expire_at_ms),
      &current_expiry_version, !ready);
  return builder.Finish(id, wire::Message::PutResponse, resp.Union());
}

// The store's TouchCondition mirrors the wire's, value for value.
static_assert(static_cast<int>(TouchCondition::kIfHasExpiryAndLess) ==
              static_cast<int>(wire::TouchCondition::IfHasExpiryAndLess));
static_assert(static_cast<int>(TouchCondition::kIfGreater) ==
              static_cast<int>(wire::TouchCondition::IfGreater));

std::span<const uint8_t> RequestExecutor::ExecuteTouch(uint64_t id, const wire::Touch& touch,
                                                       FrameBuilder& builder) {
  const TouchResult r = store_.Touch(AsView(touch.key()), FromWire(*touch.version()),
                                     static_cast<int64_t>(touch.expire_at_ms()), touch.want_value(),
                                     static_cast<TouchCondition>(touch.condition()));
  auto& b = builder.Start();
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> value = 0;
  if (r.found && touch.want_value()) value = Bytes(b, r.value);
  const wire::Version version = wire::ToWire(r.version);
  const wire::Version previous_expiry_version = wire::ToWire(r.previous_expiry_version);
  auto resp = wire::CreateTouchResponse(b, r.found, r.applied, value, &version,
                                        static_cast<uint64_t>(r.previous_expire_at_ms),
                                        r.condition_failed, &previous_expiry_version, r.tombstone,
                                        static_cast<wire::ValueType>(r.value_type));
  return builder.Finish(id, wire::Message::TouchResponse, resp.Union());
}

}  // namespace shoal::node
