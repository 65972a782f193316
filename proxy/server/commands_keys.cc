// Key commands: each is split into one KeyOp per key (Worker::StartKeyOp), and its reply is put
// together from the decided operations, in key order, by FormatDecided and Finalize.

#include <algorithm>
#include <string>

#include "common/wire/frame.h"
#include "proxy/command/args.h"
#include "proxy/command/command_table.h"
#include "proxy/resp/reply.h"
#include "proxy/server/client_connection.h"
#include "proxy/server/worker.h"
#include "schemas/shoal_generated.h"

namespace shoal::proxy {

namespace {

// ReplySlot::variant bits.
constexpr uint8_t kReplyPrevious = 1;     // SET ... GET: reply with the previous value
constexpr uint8_t kReplyConditional = 2;  // SET NX/XX: nil when no replica applied it
constexpr uint8_t kReplyInteger = 4;      // SETNX: 1/0
constexpr uint8_t kMilliseconds = 16;     // PTTL
constexpr uint8_t kConditionalTouch = 32; // EXPIRE NX|XX|GT|LT: 0 when no replica applied it

wire::TouchCondition ToWire(ExpireCondition c) {
  switch (c) {
    case ExpireCondition::kNone: return wire::TouchCondition::Always;
    case ExpireCondition::kNx: return wire::TouchCondition::IfNoExpiry;
    case ExpireCondition::kXx: return wire::TouchCondition::IfHasExpiry;
    case ExpireCondition::kGt: return wire::TouchCondition::IfGreater;
    case ExpireCondition::kLt: return wire::TouchCondition::IfLess;
    case ExpireCondition::kXxLt: return wire::TouchCondition::IfHasExpiryAndLess;
  }
  return wire::TouchCondition::Always;
}

std::string NoQuorumError(const KeyOp& op) {
  const QuorumTally& t = op.tally();
  std::string msg = op.kind == OpKind::kGet ? "NOQUORUM read needed " : "NOQUORUM write needed ";
  msg += std::to_string(t.required());
  msg += " replicas, ";
  msg += std::to_string(t.acks());
  msg += " answered";
  if (!op.node_error.empty()) {
    msg += " (node error: ";
    msg += op.node_error;
    msg += ")";
  }
  return msg;
}

}  // namespace

void ClientConnection::StartKeys(ReplySlot& slot, uint32_t count) {
  slot.outstanding = count;
  waiting_ops_ += count;
}

void ClientConnection::ExecuteKeyCommand(const CommandSpec& spec, Args args) {
  ReplySlot& slot = NewSlot(spec.id);
  const size_t last_key = spec.last_key < 0 ? args.size() + spec.last_key : spec.last_key;
  for (size_t k = spec.first_key; spec.step > 0 && k <= last_key && k < args.size();
       k += spec.step) {
    if (args[k].size() > kMaxKeyBytes) {
      return ReplyError(slot, "ERR key is too long (Shoal's limit is " +
                                  std::to_string(kMaxKeyBytes) + " bytes)");
    }
  }
  const int64_t now = worker_.NowMs();
  KeyRequest req;
  req.level = spec.write ? write_level_ : read_level_;

  switch (spec.id) {
    case CommandId::kGet: {
      req.kind = OpKind::kGet;
      req.key = args[1];
      StartKeys(slot, 1);
      worker_.StartKeyOp(*this, slot, 0, req);
      return;
    }
    case CommandId::kGetEx: {
      GetExOptions opts;
      std::string err = ParseGetExOptions(args.subspan(2), now, &opts);
      if (!err.empty()) return ReplyError(slot, err);
      req.key = args[1];
      if (!opts.touch) {
        req.kind = OpKind::kGet;
        req.level = read_level_;
      } else {
        req.kind = OpKind::kTouch;
        req.want_value = true;
        req.want_previous = true;
        req.expire_at_ms = opts.expire_at_ms;
      }
      StartKeys(slot, 1);
      worker_.StartKeyOp(*this, slot, 0, req);
      return;
    }
    case CommandId::kSet:
    case CommandId::kSetEx:
    case CommandId::kPSetEx:
    case CommandId::kSetNx: {
      req.kind = OpKind::kPut;
      req.key = args[1];
      if (spec.id == CommandId::kSet) {
        SetOptions opts;
        std::string err = ParseSetOptions(args.subspan(3), now, &opts);
        if (!err.empty()) return ReplyError(slot, err);
        req.value = args[2];
        req.expire_at_ms = opts.expire_at_ms;
        req.keep_ttl = opts.keep_ttl;
        req.want_previous = opts.get;
        req.condition = static_cast<unsigned char>(
            opts.condition == SetCondition::kIfAbsent   ? wire::PutCondition::IfAbsent
            : opts.condition == SetCondition::kIfPresent ? wire::PutCondition::IfPresent
                                                         : wire::PutCondition::Always);
        if (opts.get) slot.variant |= kReplyPrevious;
        if (opts.condition != SetCondition::kNone) slot.variant |= kReplyConditional;
      } else if (spec.id == CommandId::kSetNx) {
        req.value = args[2];
        req.condition = static_cast<unsigned char>(wire::PutCondition::IfAbsent);
        slot.variant |= kReplyInteger;
      } else {
        const bool ms = spec.id == CommandId::kPSetEx;
        std::string err =
            ParsePositiveExpiry(args[2], ms, false, now, spec.name, &req.expire_at_ms);
        if (!err.empty()) return ReplyError(slot, err);
        req.value = args[3];
      }
      StartKeys(slot, 1);
      worker_.StartKeyOp(*this, slot, 0, req);
      return;
    }
    case CommandId::kGetDel: {
      req.kind = OpKind::kPut;
      req.key = args[1];
      req.tombstone = true;
      req.want_previous = true;
      slot.variant |= kReplyPrevious;
      StartKeys(slot, 1);
      worker_.StartKeyOp(*this, slot, 0, req);
      return;
    }
    case CommandId::kMGet: {
      const uint32_t n = static_cast<uint32_t>(args.size() - 1);
      slot.parts.resize(n);
      req.kind = OpKind::kGet;
      StartKeys(slot, n);
      for (uint32_t i = 0; i < n; ++i) {
        req.key = args[i + 1];
        worker_.StartKeyOp(*this, slot, i, req);
      }
      return;
    }
    case CommandId::kMSet: {
      if (args.size() % 2 == 0) {
        return ReplyError(slot, "ERR wrong number of arguments for 'mset' command");
      }
      const uint32_t n = static_cast<uint32_t>((args.size() - 1) / 2);
      req.kind = OpKind::kPut;
      StartKeys(slot, n);
      for (uint32_t i = 0; i < n; ++i) {
        req.key = args[1 + 2 * i];
        req.value = args[2 + 2 * i];
        worker_.StartKeyOp(*this, slot, i, req);
      }
      return;
    }
    case CommandId::kDel:
    case CommandId::kUnlink:
    case CommandId::kExists:
    case CommandId::kTouch: {
      const uint32_t n = static_cast<uint32_t>(args.size() - 1);
      const bool del = spec.id == CommandId::kDel || spec.id == CommandId::kUnlink;
      req.kind = del ? OpKind::kPut : OpKind::kGet;
      req.tombstone = del;
      req.want_value = false;
      StartKeys(slot, n);
      for (uint32_t i = 0; i < n; ++i) {
        req.key = args[i + 1];
        worker_.StartKeyOp(*this, slot, i, req);
      }
      return;
    }
    case CommandId::kExpire:
    case CommandId::kPExpire:
    case CommandId::kExpireAt:
    case CommandId::kPExpireAt: {
      const bool ms = spec.id == CommandId::kPExpire || spec.id == CommandId::kPExpireAt;
      const bool absolute = spec.id == CommandId::kExpireAt || spec.id == CommandId::kPExpireAt;
      ExpireArgs ea;
      std::string err = ParseExpireArgs(args.subspan(2), ms, absolute, now, spec.name, &ea);
      if (!err.empty()) return ReplyError(slot, err);
      req.key = args[1];
      if (ea.condition != ExpireCondition::kNone) {
        // Conditional: every replica judges the condition on the expiry it holds. A time in
        // the past makes the value expire (dead everywhere) when the condition holds.
        req.kind = OpKind::kTouch;
        req.want_value = false;
        req.expire_at_ms = std::max<int64_t>(ea.expire_at_ms, 1);
        req.touch_condition = static_cast<unsigned char>(ToWire(ea.condition));
        slot.variant |= kConditionalTouch;
      } else if (ea.expire_at_ms <= now) {
        // Redis deletes a key whose new expiry is already past.
        req.kind = OpKind::kPut;
        req.tombstone = true;
      } else {
        req.kind = OpKind::kTouch;
        req.want_value = false;
        req.expire_at_ms = ea.expire_at_ms;
      }
      StartKeys(slot, 1);
      worker_.StartKeyOp(*this, slot, 0, req);
      return;
    }
    case CommandId::kPersist: {
      req.kind = OpKind::kTouch;
      req.key = args[1];
      req.want_value = false;
      req.expire_at_ms = 0;
      StartKeys(slot, 1);
      worker_.StartKeyOp(*this, slot, 0, req);
      return;
    }
    case CommandId::kTtl:
    case CommandId::kPTtl: {
      req.kind = OpKind::kGet;
      req.key = args[1];
      req.want_value = false;
      if (spec.id == CommandId::kPTtl) slot.variant |= kMilliseconds;
      StartKeys(slot, 1);
      worker_.StartKeyOp(*this, slot, 0, req);
      return;
    }
    default:
      return ReplyError(slot, "ERR command not implemented");
  }
}

void ClientConnection::FormatDecided(ReplySlot& slot, const KeyOp& op) {
  if (op.decision() != QuorumDecision::kReached) {
    if (slot.error.empty()) slot.error = NoQuorumError(op);
    return;
  }
  const int64_t now = worker_.NowMs();
  switch (slot.command) {
    case CommandId::kGet:
    case CommandId::kGetEx:
      if (op.kind == OpKind::kGet) {
        if (op.read.BestIsLive(now)) resp::AppendBulk(slot.reply, op.read.best_value());
        else resp::AppendNull(slot.reply);
      } else if (op.write.previous_found()) {
        resp::AppendBulk(slot.reply, op.write.previous_value());
      } else {
        resp::AppendNull(slot.reply);
      }
      return;
    case CommandId::kMGet: {
      std::string& part = slot.parts[op.key_index];
      if (op.read.BestIsLive(now)) resp::AppendBulk(part, op.read.best_value());
      else resp::AppendNull(part);
      return;
    }
    case CommandId::kSet:
    case CommandId::kSetEx:
    case CommandId::kPSetEx:
    case CommandId::kSetNx:
    case CommandId::kGetDel:
      if (slot.variant & kReplyPrevious) {
        if (op.write.previous_found()) resp::AppendBulk(slot.reply, op.write.previous_value());
        else resp::AppendNull(slot.reply);
      } else if (slot.variant & kReplyInteger) {
        resp::AppendInteger(slot.reply, op.write.applied() > 0 ? 1 : 0);
      } else if ((slot.variant & kReplyConditional) && op.write.applied() == 0) {
        resp::AppendNull(slot.reply);
      } else {
        resp::AppendOk(slot.reply);
      }
      return;
    case CommandId::kMSet:
      return;  // OK once all keys are acknowledged
    case CommandId::kDel:
    case CommandId::kUnlink:
      slot.integer += op.write.previous_found() ? 1 : 0;
      return;
    case CommandId::kExists:
    case CommandId::kTouch:
      slot.integer += op.read.BestIsLive(now) ? 1 : 0;
      return;
    case CommandId::kExpire:
    case CommandId::kPExpire:
    case CommandId::kExpireAt:
    case CommandId::kPExpireAt:
      if (slot.variant & kConditionalTouch) {
        resp::AppendInteger(slot.reply, op.write.previous_found() && op.write.applied() > 0);
      } else {
        resp::AppendInteger(slot.reply, op.write.previous_found() ? 1 : 0);
      }
      return;
    case CommandId::kPersist:
      resp::AppendInteger(slot.reply,
                          op.write.previous_found() && op.write.previous_expire_at_ms() != 0 ? 1
                                                                                              : 0);
      return;
    case CommandId::kTtl:
    case CommandId::kPTtl: {
      int64_t v;
      if (!op.read.BestIsLive(now)) {
        v = -2;
      } else if (op.read.best_expire_at_ms() == 0) {
        v = -1;
      } else {
        const int64_t ms = std::max<int64_t>(op.read.best_expire_at_ms() - now, 0);
        v = (slot.variant & kMilliseconds) ? ms : (ms + 500) / 1000;
      }
      resp::AppendInteger(slot.reply, v);
      return;
    }
    default:
      return;
  }
}

void ClientConnection::Finalize(ReplySlot& slot) {
  if (!slot.error.empty()) {
    slot.reply.clear();
    resp::AppendError(slot.reply, slot.error);
    return;
  }
  switch (slot.command) {
    case CommandId::kMGet: {
      resp::AppendArray(slot.reply, static_cast<int64_t>(slot.parts.size()));
      for (const std::string& part : slot.parts) slot.reply += part;
      slot.parts.clear();
      slot.parts.shrink_to_fit();
      return;
    }
    case CommandId::kMSet:
      resp::AppendOk(slot.reply);
      return;
    case CommandId::kDel:
    case CommandId::kUnlink:
    case CommandId::kExists:
    case CommandId::kTouch:
      resp::AppendInteger(slot.reply, slot.integer);
      return;
    default:
      return;  // single-key replies were formatted when decided
  }
}

}  // namespace shoal::proxy
