#include "proxy/upstream/key_messages.h"

#include <algorithm>

#include "common/wire/version_wire.h"

namespace shoal::proxy {

namespace {

EntryState StateOf(bool found, bool tombstone, const wire::Version* version,
                   const wire::Version* expiry_version, uint64_t expire_at_ms) {
  EntryState s;
  s.found = found;
  s.tombstone = tombstone;
  s.version = FromWire(version);
  s.expiry_version = FromWire(expiry_version);
  s.expire_at_ms = static_cast<int64_t>(expire_at_ms);
  return s;
}

}  // namespace

std::span<const uint8_t> BuildKeyRequest(FrameBuilder& builder, uint64_t request_id,
                                         std::string_view key, const NodeRequest& req,
                                         std::string_view hint_target) {
  auto& b = builder.Start();
  const auto key_bytes = Bytes(b, key);
  const wire::Version version = wire::ToWire(req.version);
  const wire::Version put_expiry_version =
      wire::ToWire(req.expiry_version.IsZero() ? req.version : req.expiry_version);
  const uint64_t expire_at = static_cast<uint64_t>(std::max<int64_t>(req.expire_at_ms, 0));
  switch (req.type) {
    case NodeRequest::Type::kGet: {
      wire::GetBuilder get(b);
      get.add_key(key_bytes);
      get.add_want_value(req.want_value);
      get.add_want_typed_value(true);  // typed bodies of one version merge (docs/data-model.md)
      return builder.Finish(request_id, wire::Message::Get, get.Finish().Union());
    }
    case NodeRequest::Type::kPut: {
      const auto value = Bytes(b, req.value);
      wire::PutBuilder put(b);
      put.add_key(key_bytes);
      put.add_value(value);
      put.add_version(&version);
      put.add_expiry_version(&put_expiry_version);
      put.add_expire_at_ms(expire_at);
      put.add_tombstone(req.tombstone);
      put.add_value_type(static_cast<wire::ValueType>(req.value_type));
      const wire::Version at_most = wire::ToWire(req.if_version_at_most);
      if (req.conditional) put.add_if_version_at_most(&at_most);
      return builder.Finish(request_id, wire::Message::Put, put.Finish().Union());
    }
    case NodeRequest::Type::kHintPut: {
      // The same Put the owner was sent, wrapped with the owner's id: the fallback spools it
      // (durably, then HintAck) and replays it to that owner later.
      const auto value = Bytes(b, req.value);
      wire::PutBuilder put(b);
      put.add_key(key_bytes);
      put.add_value(value);
      put.add_version(&version);
      put.add_expiry_version(&put_expiry_version);
      put.add_expire_at_ms(expire_at);
      put.add_tombstone(req.tombstone);
      put.add_value_type(static_cast<wire::ValueType>(req.value_type));
      const auto put_offset = put.Finish();
      const auto target = b.CreateString(hint_target.data(), hint_target.size());
      wire::HintPutBuilder hint(b);
      hint.add_target(target);
      hint.add_put(put_offset);
      return builder.Finish(request_id, wire::Message::HintPut, hint.Finish().Union());
    }
    case NodeRequest::Type::kTouch: {
      wire::TouchBuilder touch(b);
      touch.add_key(key_bytes);
      touch.add_version(&version);
      touch.add_expire_at_ms(expire_at);
      touch.add_want_value(req.want_value);
      return builder.Finish(request_id, wire::Message::Touch, touch.Finish().Union());
    }
  }
  return {};
}

std::span<const uint8_t> BuildRepairPut(FrameBuilder& builder, uint64_t request_id,
                                        std::string_view key, const EntryState& state,
                                        std::string_view value, typed::ValueType value_type) {
  auto& b = builder.Start();
  const auto key_bytes = Bytes(b, key);
  const auto value_bytes = Bytes(b, value);
  const wire::Version version = wire::ToWire(state.version);
  const wire::Version expiry_version = wire::ToWire(state.effective_expiry_version());
  wire::PutBuilder put(b);
  put.add_key(key_bytes);
  put.add_value(value_bytes);
  put.add_version(&version);
  put.add_expiry_version(&expiry_version);
  put.add_expire_at_ms(static_cast<uint64_t>(std::max<int64_t>(state.expire_at_ms, 0)));
  put.add_tombstone(state.tombstone);
  if (!state.tombstone) put.add_value_type(static_cast<wire::ValueType>(value_type));
  return builder.Finish(request_id, wire::Message::Put, put.Finish().Union());
}

KeyReplyKind FeedKeyReply(KeyOperation& m, uint8_t tag, const wire::Envelope* env, int64_t now,
                          std::string* node_error) {
  if (env == nullptr) {
    m.OnFailure(tag, now);
    return KeyReplyKind::kFailure;
  }
  if (const auto* error = env->message_as_Error()) {
    if (error->code() == wire::ErrorCode::NotReady) {
      m.OnNotReady(tag, now);
      return KeyReplyKind::kNotReady;
    }
    if (node_error != nullptr && node_error->empty() && error->message() != nullptr &&
        !m.is_hint(tag)) {
      *node_error = error->message()->str();
    }
    m.OnFailure(tag, now);
    return KeyReplyKind::kNodeError;
  }
  if (const auto* get = env->message_as_GetResponse()) {
    GetReply reply;
    reply.state = StateOf(get->found(), get->tombstone(), get->version(), get->expiry_version(),
                          get->expire_at_ms());
    reply.value = AsView(get->value());
    if (get->value_type() <= wire::ValueType::MAX && !get->tombstone()) {
      reply.value_type = static_cast<typed::ValueType>(get->value_type());
      reply.body_digest = get->body_digest();
    }
    m.OnGet(tag, reply, now);
    return KeyReplyKind::kReply;
  }
  if (const auto* put = env->message_as_PutResponse()) {
    PutReply reply;
    reply.applied = put->applied();
    reply.condition_failed = put->condition_failed();
    reply.current = FromWire(put->current());
    reply.current_expiry_version = FromWire(put->current_expiry_version());
    reply.previous_found = put->previous_found();
    reply.previous_version = FromWire(put->previous_version());
    reply.not_ready = put->not_ready();
    m.OnPut(tag, reply, now);
    return reply.not_ready ? KeyReplyKind::kNotReady : KeyReplyKind::kReply;
  }
  if (const auto* ack = env->message_as_HintAck()) {
    m.OnHintAck(tag, ack->stored(), now);
    return KeyReplyKind::kReply;
  }
  if (const auto* touch = env->message_as_TouchResponse()) {
    TouchReply reply;
    // `found` is a live value; otherwise a version reported is a tombstone's or an expired
    // value's (nodes before TouchResponse.tombstone report only the version).
    const bool held = touch->found() || touch->tombstone() || !FromWire(touch->version()).IsZero();
    reply.previous = StateOf(held, held && !touch->found(), touch->version(),
                             touch->previous_expiry_version(), touch->previous_expire_at_ms());
    reply.applied = touch->applied();
    reply.value = AsView(touch->value());
    if (touch->value_type() <= wire::ValueType::MAX) {
      reply.value_type = static_cast<typed::ValueType>(touch->value_type());
    }
    m.OnTouch(tag, reply, now);
    return KeyReplyKind::kReply;
  }
  m.OnFailure(tag, now);
  return KeyReplyKind::kWrongType;
}

}  // namespace shoal::proxy
