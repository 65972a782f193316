// Key commands. Each command becomes one KeyPlan per key (proxy/quorum/key_operation.h says what
// each mode does, docs/replication.md why), run by Worker::StartKeyOp; its reply is put together
// from the keys' answers, in key order, by FormatDecided and Finalize. The families:
//
//   reads           GET, GETEX (no option), MGET, EXISTS, TOUCH, TTL, PTTL          KeyMode::kRead
//   blind writes    SET, SETEX, PSETEX, MSET, DEL, UNLINK, EXPIRE* in the past       kWrite
//   touches         EXPIRE* (future, no condition), PERSIST, GETEX with an option    kTouch
//   read-then-write SET NX/XX/GET/KEEPTTL, SETNX, GETDEL, EXPIRE* NX/XX/GT/LT kReadThenWrite

#include <algorithm>
#include <string>

#include "proxy/command/args.h"
#include "proxy/command/command_table.h"
#include "proxy/resp/reply.h"
#include "proxy/server/client_connection.h"
#include "proxy/server/worker.h"

namespace shoal::proxy {

namespace {

// ReplySlot::variant bits.
constexpr uint8_t kReplyPrevious = 1;       // SET ... GET: reply with the previous value
constexpr uint8_t kReplyConditional = 2;    // SET NX/XX: nil when the condition did not hold
constexpr uint8_t kMilliseconds = 16;       // PTTL
constexpr uint8_t kReplyPerformed = 32;     // EXPIRE NX|XX|GT|LT: 1 when the condition held
constexpr uint8_t kReplyPreviousLive = 64;  // EXPIRE in the past (a delete): 1 when it was live
constexpr uint8_t kWriteCommand = 128;      // the command writes (its read phase is a write's)

KeyCondition ToKeyCondition(ExpireCondition c) {
  switch (c) {
    case ExpireCondition::kNone:
      return KeyCondition::kNone;
    case ExpireCondition::kNx:
      return KeyCondition::kExpireNx;
    case ExpireCondition::kXx:
      return KeyCondition::kExpireXx;
    case ExpireCondition::kGt:
      return KeyCondition::kExpireGt;
    case ExpireCondition::kLt:
      return KeyCondition::kExpireLt;
    case ExpireCondition::kXxLt:
      return KeyCondition::kExpireXxLt;
  }
  return KeyCondition::kNone;
}

// A write command whose read phase failed says "write": that read ran at the write's consistency.
std::string NoQuorumError(const KeyAnswer& answer, std::string_view node_error, bool write) {
  std::string msg = write || answer.failure == KeyAnswer::Failure::kWriteQuorum
                        ? "NOQUORUM write needed "
                        : "NOQUORUM read needed ";
  msg += std::to_string(answer.required);
  msg += " replicas, ";
  msg += std::to_string(answer.acks);
  msg += " answered";
  if (answer.failure == KeyAnswer::Failure::kValueUnavailable) {
    msg += " (no replica holding the newest version returned its value)";
  }
  if (!node_error.empty()) {
    msg += " (node error: ";
    msg += node_error;
    msg += ")";
  }
  return msg;
}

// What a Put frame adds to its key and value: envelope, table and vtable, two versions, expiry,
// flags and alignment padding (a generous bound: FlatBuffers needs well under 200 bytes).
constexpr uint64_t kPutFrameOverhead = 256;

// Empty when `key` and `value` fit in one Put frame for every node (`frame_limit`: the smallest
// request frame the nodes advertised); else the client's error.
std::string CheckPutSize(std::string_view key, std::string_view value, uint64_t frame_limit) {
  const uint64_t frame = key.size() + value.size() + kPutFrameOverhead;
  if (frame <= frame_limit) return {};
  const uint64_t largest = frame_limit > key.size() + kPutFrameOverhead
                               ? frame_limit - key.size() - kPutFrameOverhead
                               : 0;
  return "ERR value too large: " + std::to_string(value.size()) +
         " bytes, the storage nodes accept at most " + std::to_string(largest) +
         " bytes for this key (node --max-frame-size " + std::to_string(frame_limit) + ")";
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
  const Consistency level = spec.write ? write_level_ : read_level_;
  if (spec.write) slot.variant |= kWriteCommand;
  KeyPlan plan;
  auto start_one = [&](std::string_view key, Consistency lvl) {
    StartKeys(slot, 1);
    worker_.StartKeyOp(*this, slot, 0, key, lvl, plan);
  };

  switch (spec.id) {
    case CommandId::kGet:
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      return start_one(args[1], level);
    case CommandId::kGetEx: {
      GetExOptions opts;
      std::string err = ParseGetExOptions(args.subspan(2), now, &opts);
      if (!err.empty()) return ReplyError(slot, err);
      if (!opts.touch) {
        plan.mode = KeyMode::kRead;
        plan.want_value = true;
        return start_one(args[1], read_level_);
      }
      plan.mode = KeyMode::kTouch;
      plan.touch_wants_value = true;
      plan.expire_at_ms = opts.expire_at_ms;
      return start_one(args[1], level);
    }
    case CommandId::kSet:
    case CommandId::kSetEx:
    case CommandId::kPSetEx:
    case CommandId::kSetNx: {
      plan.mode = KeyMode::kWrite;
      plan.value = args[2];
      if (spec.id == CommandId::kSet) {
        SetOptions opts;
        std::string err = ParseSetOptions(args.subspan(3), now, &opts);
        if (!err.empty()) return ReplyError(slot, err);
        plan.expire_at_ms = opts.expire_at_ms;
        if (opts.get || opts.keep_ttl || opts.condition != SetCondition::kNone) {
          plan.mode = KeyMode::kReadThenWrite;
          plan.want_value = opts.get;
          plan.keep_expiry = opts.keep_ttl;
          plan.condition = opts.condition == SetCondition::kIfAbsent    ? KeyCondition::kIfAbsent
                           : opts.condition == SetCondition::kIfPresent ? KeyCondition::kIfPresent
                                                                        : KeyCondition::kNone;
        }
        if (opts.get) slot.variant |= kReplyPrevious;
        if (opts.condition != SetCondition::kNone) slot.variant |= kReplyConditional;
      } else if (spec.id == CommandId::kSetNx) {
        plan.mode = KeyMode::kReadThenWrite;
        plan.condition = KeyCondition::kIfAbsent;
        slot.variant |= kReplyPerformed;
      } else {
        const bool ms = spec.id == CommandId::kPSetEx;
        std::string err =
            ParsePositiveExpiry(args[2], ms, false, now, spec.name, &plan.expire_at_ms);
        if (!err.empty()) return ReplyError(slot, err);
        plan.value = args[3];
      }
      if (std::string err = CheckPutSize(args[1], plan.value, worker_.SmallestNodeFrameLimit());
          !err.empty()) {
        return ReplyError(slot, err);
      }
      return start_one(args[1], level);
    }
    case CommandId::kGetDel:
      plan.mode = KeyMode::kReadThenWrite;
      plan.want_value = true;
      plan.condition = KeyCondition::kIfPresent;
      plan.tombstone = true;
      slot.variant |= kReplyPrevious;
      return start_one(args[1], level);
    case CommandId::kMGet: {
      const uint32_t n = static_cast<uint32_t>(args.size() - 1);
      slot.parts.resize(n);
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      StartKeys(slot, n);
      for (uint32_t i = 0; i < n; ++i) worker_.StartKeyOp(*this, slot, i, args[i + 1], level, plan);
      return;
    }
    case CommandId::kMSet: {
      if (args.size() % 2 == 0) {
        return ReplyError(slot, "ERR wrong number of arguments for 'mset' command");
      }
      const uint32_t n = static_cast<uint32_t>((args.size() - 1) / 2);
      // Refused whole, before any key is written.
      const uint64_t frame_limit = worker_.SmallestNodeFrameLimit();
      for (uint32_t i = 0; i < n; ++i) {
        std::string err = CheckPutSize(args[1 + 2 * i], args[2 + 2 * i], frame_limit);
        if (!err.empty()) return ReplyError(slot, err);
      }
      plan.mode = KeyMode::kWrite;
      StartKeys(slot, n);
      for (uint32_t i = 0; i < n; ++i) {
        plan.value = args[2 + 2 * i];
        worker_.StartKeyOp(*this, slot, i, args[1 + 2 * i], level, plan);
      }
      return;
    }
    case CommandId::kDel:
    case CommandId::kUnlink:
    case CommandId::kExists:
    case CommandId::kTouch: {
      const uint32_t n = static_cast<uint32_t>(args.size() - 1);
      const bool del = spec.id == CommandId::kDel || spec.id == CommandId::kUnlink;
      plan.mode = del ? KeyMode::kWrite : KeyMode::kRead;
      plan.tombstone = del;
      StartKeys(slot, n);
      for (uint32_t i = 0; i < n; ++i) worker_.StartKeyOp(*this, slot, i, args[i + 1], level, plan);
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
      const bool past = ea.expire_at_ms <= now;  // Redis deletes the key
      if (ea.condition != ExpireCondition::kNone) {
        // Judged once on the resolved state, then an unconditional Touch (or a delete).
        plan.mode = KeyMode::kReadThenWrite;
        plan.condition = ToKeyCondition(ea.condition);
        plan.condition_expire_at_ms = ea.expire_at_ms;
        plan.write_is_touch = !past;
        plan.tombstone = past;
        plan.expire_at_ms = past ? 0 : ea.expire_at_ms;
        slot.variant |= kReplyPerformed;
      } else if (past) {
        plan.mode = KeyMode::kWrite;
        plan.tombstone = true;
        slot.variant |= kReplyPreviousLive;
      } else {
        plan.mode = KeyMode::kTouch;
        plan.expire_at_ms = ea.expire_at_ms;
      }
      return start_one(args[1], level);
    }
    case CommandId::kPersist:
      plan.mode = KeyMode::kTouch;
      plan.expire_at_ms = 0;
      return start_one(args[1], level);
    case CommandId::kTtl:
    case CommandId::kPTtl:
      plan.mode = KeyMode::kRead;
      if (spec.id == CommandId::kPTtl) slot.variant |= kMilliseconds;
      return start_one(args[1], level);
    default:
      return ReplyError(slot, "ERR command not implemented");
  }
}

void ClientConnection::FormatDecided(ReplySlot& slot, uint32_t key_index, const KeyAnswer& answer,
                                     std::string_view node_error) {
  if (answer.failure != KeyAnswer::Failure::kNone) {
    if (slot.error.empty())
      slot.error = NoQuorumError(answer, node_error, slot.variant & kWriteCommand);
    return;
  }
  const int64_t now = worker_.NowMs();
  switch (slot.command) {
    case CommandId::kGet:
    case CommandId::kGetEx:
      if (answer.live)
        resp::AppendBulk(slot.reply, answer.value);
      else
        resp::AppendNull(slot.reply);
      return;
    case CommandId::kMGet: {
      std::string& part = slot.parts[key_index];
      if (answer.live)
        resp::AppendBulk(part, answer.value);
      else
        resp::AppendNull(part);
      return;
    }
    case CommandId::kSet:
    case CommandId::kSetEx:
    case CommandId::kPSetEx:
    case CommandId::kSetNx:
    case CommandId::kGetDel:
      if (slot.variant & kReplyPrevious) {
        if (answer.live)
          resp::AppendBulk(slot.reply, answer.value);
        else
          resp::AppendNull(slot.reply);
      } else if (slot.variant & kReplyPerformed) {
        resp::AppendInteger(slot.reply, answer.performed ? 1 : 0);
      } else if ((slot.variant & kReplyConditional) && !answer.performed) {
        resp::AppendNull(slot.reply);
      } else {
        resp::AppendOk(slot.reply);
      }
      return;
    case CommandId::kMSet:
      return;  // OK once all keys are acknowledged
    case CommandId::kDel:
    case CommandId::kUnlink:
      slot.integer += answer.previous_live ? 1 : 0;
      return;
    case CommandId::kExists:
    case CommandId::kTouch:
      slot.integer += answer.live ? 1 : 0;
      return;
    case CommandId::kExpire:
    case CommandId::kPExpire:
    case CommandId::kExpireAt:
    case CommandId::kPExpireAt:
      if (slot.variant & kReplyPerformed) {
        resp::AppendInteger(slot.reply, answer.performed ? 1 : 0);
      } else if (slot.variant & kReplyPreviousLive) {
        resp::AppendInteger(slot.reply, answer.previous_live ? 1 : 0);
      } else {
        resp::AppendInteger(slot.reply, answer.live ? 1 : 0);
      }
      return;
    case CommandId::kPersist:
      resp::AppendInteger(slot.reply, answer.live && answer.state.expire_at_ms != 0 ? 1 : 0);
      return;
    case CommandId::kTtl:
    case CommandId::kPTtl: {
      int64_t v;
      if (!answer.live) {
        v = -2;
      } else if (answer.state.expire_at_ms == 0) {
        v = -1;
      } else {
        const int64_t ms = std::max<int64_t>(answer.state.expire_at_ms - now, 0);
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
