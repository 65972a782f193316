// Key commands: each is planned by PlanKeyCommand (proxy/command/key_commands.h: one KeyPlan per
// key, the families and their modes), run key by key by Worker::StartKeyOp, and its reply is put
// together from the keys' answers, in key order, by FormatDecided and Finalize.

#include <algorithm>
#include <random>
#include <string>

#include "common/typed/counter.h"
#include "common/typed/typed_value.h"
#include "proxy/command/command_table.h"
#include "proxy/command/key_commands.h"
#include "proxy/command/lcs.h"
#include "proxy/resp/reply.h"
#include "proxy/server/client_connection.h"
#include "proxy/server/element_replies.h"
#include "proxy/server/worker.h"

namespace shoal::proxy {

namespace {

// A write command whose read phase failed says "write": that read ran at the write's consistency.
std::string NoQuorumError(const KeyAnswer& answer, std::string_view node_error, bool write) {
  if (answer.failure == KeyAnswer::Failure::kConflict) {
    return "TRYAGAIN the key was written concurrently on each of " +
           std::to_string(KeyOperation::kMaxConflictAttempts) +
           " attempts of this read-modify-write; not acknowledged";
  }
  std::string msg = write || answer.failure == KeyAnswer::Failure::kWriteQuorum
                        ? "NOQUORUM write needed "
                        : "NOQUORUM read needed ";
  msg += std::to_string(answer.required);
  msg += " replicas, ";
  msg += std::to_string(answer.acks);
  msg += " answered";
  if (answer.not_ready_applied > 0) {
    msg += " (" + std::to_string(answer.not_ready_applied) +
           " warming up or syncing: applied there, not counted)";
  }
  if (answer.failure == KeyAnswer::Failure::kValueUnavailable) {
    msg += " (no replica holding the newest version returned its value)";
  }
  if (answer.sloppy_acks > 0 || (answer.sloppy && answer.hints_stored > 0)) {
    msg += " (sloppy quorum: counting " + std::to_string(answer.hints_stored) + " stored hint" +
           (answer.hints_stored == 1 ? "" : "s") + ")";
  } else if (answer.hints_stored > 0) {
    msg += " (" + std::to_string(answer.hints_stored) + " hint" +
           (answer.hints_stored == 1 ? "" : "s") +
           " stored for unreachable owners, not counted: strict quorum; the write may still "
           "reach them)";
  }
  if (!node_error.empty()) {
    msg += " (node error: ";
    msg += node_error;
    msg += ")";
  }
  return msg;
}

constexpr int64_t kSourceLive = 1;  // ReplySlot::integer bits for RENAME / COPY
constexpr int64_t kDestinationLive = 2;
constexpr int64_t kSourceCounter = 4;  // parts[2] is a counter's body

bool IsRenameFamily(CommandId id) {
  return id == CommandId::kRename || id == CommandId::kRenameNx || id == CommandId::kCopy;
}

// GETRANGE's substring, as Redis 7 computes it (negative indexes count from the end).
std::string_view GetRange(std::string_view s, int64_t start, int64_t end) {
  const int64_t len = static_cast<int64_t>(s.size());
  if (start < 0 && end < 0 && start > end) return {};
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return {};
  return s.substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1));
}

// HRANDFIELD's choices and SPOP's seeds: one generator per worker thread.
std::mt19937_64& ElementRng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

}  // namespace

bool ClientConnection::NextPhase(ReplySlot& slot) {
  if (IsRenameFamily(slot.command)) return NextRenamePhase(slot);
  if (slot.command == CommandId::kSMove || IsSetAlgebra(slot.command)) return NextSetPhase(slot);
  if (slot.command == CommandId::kMSetNx) {
    if (slot.msetnx->Next() == MSetNx::Phase::kDone) return false;
    StartMSetNxPhase(slot);
    return true;
  }
  return false;
}

// MSETNX (proxy/quorum/msetnx.h): the keys the current phase runs, each with its plan.
void ClientConnection::StartMSetNxPhase(ReplySlot& slot) {
  MSetNx& m = *slot.msetnx;
  // Listed first: a key decided at once may end the phase (and start the next) while the last
  // one is started.
  std::vector<uint32_t> run;
  for (uint32_t i = 0; i < m.keys(); ++i) {
    if (m.Runs(i)) run.push_back(i);
  }
  StartKeys(slot, static_cast<uint32_t>(run.size()));
  for (uint32_t i : run) {
    KeyPlan plan = m.Plan(i);
    plan.sloppy = sloppy_;
    worker_.StartKeyOp(*this, slot, i, m.key(i), write_level_, plan);
  }
}

void ClientConnection::FinishClosedMSetNx(ReplySlot& slot, uint32_t key_index,
                                          const KeyAnswer& answer, std::string_view node_error) {
  MSetNx& m = *slot.msetnx;
  // A read of a closed client may be dropped undecided (Worker::ReplicaDone): never judged.
  if (m.phase() == MSetNx::Phase::kRead) return;
  m.OnDecided(key_index, answer, node_error);
  if (--slot.outstanding > 0) return;
  if (m.Next() == MSetNx::Phase::kUndo) StartMSetNxPhase(slot);
}

void ClientConnection::FinalizeMSetNx(ReplySlot& slot) {
  const MSetNx& m = *slot.msetnx;
  switch (m.outcome()) {
    case MSetNx::Outcome::kSet:
    case MSetNx::Outcome::kExists:
      resp::AppendInteger(slot.reply, m.outcome() == MSetNx::Outcome::kSet ? 1 : 0);
      break;
    case MSetNx::Outcome::kReadFailed:
      resp::AppendError(slot.reply, NoQuorumError(m.failure(), m.node_error(), true));
      break;
    case MSetNx::Outcome::kWriteFailed:
      resp::AppendError(slot.reply, NoQuorumError(m.failure(), m.node_error(), true) +
                                        "; MSETNX undone: none of its keys was set");
      break;
    case MSetNx::Outcome::kConflict:
      resp::AppendError(slot.reply, "TRYAGAIN MSETNX's keys were written concurrently on each of " +
                                        std::to_string(MSetNx::kMaxAttempts) +
                                        " attempts; none of its keys was set");
      break;
    case MSetNx::Outcome::kInDoubt:
      resp::AppendError(slot.reply,
                        "NOQUORUM write needed " + std::to_string(m.failure().required) +
                            " replicas, " + std::to_string(m.failure().acks) +
                            " applied it; MSETNX failed and a replica that did not "
                            "answer may still apply its write of " +
                            std::to_string(m.in_doubt_keys()) + " of its keys: they may be set");
      break;
    case MSetNx::Outcome::kUndoFailed:
    case MSetNx::Outcome::kNone:
      resp::AppendError(slot.reply,
                        NoQuorumError(m.failure(), m.node_error(), true) +
                            "; MSETNX failed and the undo of " +
                            std::to_string(m.undo_failed_keys()) +
                            " of its keys did not reach every replica that took the write: "
                            "they may be set");
      break;
  }
  slot.msetnx.reset();
}

// RENAME, RENAMENX, COPY (see key_commands.h): phase 0 read; phase 1 writes the destination with
// the source's value and expiry; phase 2 (RENAME*) deletes the source. Each phase starts only once
// the previous one reached its quorum, so a failure leaves the source in place (a retry writes the
// destination again, with a newer version) or both keys holding the value (the source's delete
// failed: a retry finds the source and finishes).
bool ClientConnection::NextRenamePhase(ReplySlot& slot) {
  if (!slot.error.empty()) return false;
  const bool same = slot.parts[0] == slot.parts[1];
  if (slot.phase == 0) {
    if (!(slot.integer & kSourceLive) || same) return false;  // no such key, or nothing to do
    if ((slot.integer & kDestinationLive) && !(slot.variant & kReplyRenameReplace)) return false;
    slot.phase = 1;
    KeyPlan plan;
    plan.mode = KeyMode::kWrite;
    plan.value = slot.parts[2];
    plan.expire_at_ms = slot.extra[0];
    plan.value_type = (slot.integer & kSourceCounter) != 0
                          ? typed::ValueType::kCounter
                          : static_cast<typed::ValueType>(slot.extra[1]);
    plan.sloppy = sloppy_;
    StartKeys(slot, 1);
    worker_.StartKeyOp(*this, slot, 0, slot.parts[1], write_level_, plan);
    return true;
  }
  if (slot.phase == 1 && slot.command != CommandId::kCopy) {
    slot.phase = 2;
    KeyPlan plan;
    plan.mode = KeyMode::kWrite;
    plan.tombstone = true;
    // The state read, not the key: a write to the source since then is newer and survives.
    plan.fixed_version = slot.version;
    plan.sloppy = sloppy_;
    StartKeys(slot, 1);
    worker_.StartKeyOp(*this, slot, 0, slot.parts[0], write_level_, plan);
    return true;
  }
  return false;
}

void ClientConnection::StartKeys(ReplySlot& slot, uint32_t count) {
  slot.outstanding = count;
  waiting_ops_ += count;
}

void ClientConnection::ExecuteKeyCommand(const CommandSpec& spec, Args args) {
  ReplySlot& slot = NewSlot(spec.id);
  KeyCommand command;
  std::string err =
      PlanKeyCommand(spec, args, worker_.NowMs(), worker_.SmallestNodeFrameLimit(), &command);
  if (!err.empty()) return ReplyError(slot, err);
  slot.variant = command.reply;
  slot.extra[0] = command.extra[0];
  slot.extra[1] = command.extra[1];
  if (spec.id == CommandId::kMGet || spec.id == CommandId::kLcs) slot.parts.resize(command.keys);
  if (spec.id == CommandId::kMSetNx) {
    slot.msetnx = std::make_unique<MSetNx>();
    slot.msetnx->Start(args.subspan(1));
    return StartMSetNxPhase(slot);
  }
  if (spec.id == CommandId::kSMove || IsSetAlgebra(spec.id))
    PrepareSetSlot(slot, args, command.keys);
  if (IsElementCommand(spec.id) && !IsElementWrite(spec.id)) {
    slot.parts.assign(args.begin() + 2, args.end());  // the fields (HGET, HMGET), HSCAN's options
  }
  if (IsRenameFamily(spec.id)) slot.parts = {std::string(args[1]), std::string(args[2]), {}};
  const Consistency level = command.write_level ? write_level_ : read_level_;
  StartKeys(slot, command.keys);
  for (uint32_t i = 0; i < command.keys; ++i) {
    KeyPlan plan = command.PlanFor(args, i);
    plan.sloppy = sloppy_;  // writes only: reads never count hints
    // A counter component per client connection (its increments are serialised).
    plan.counter_writer = worker_.CounterWriter(id_);
    plan.max_elements = worker_.config().max_elements_per_key;
    plan.max_bytes = worker_.config().max_bytes_per_key;
    plan.element_seed = ElementRng()();
    worker_.StartKeyOp(*this, slot, i, command.Key(args, i), level, plan);
  }
}

void ClientConnection::FormatDecided(ReplySlot& slot, uint32_t key_index, const KeyAnswer& answer,
                                     std::string_view node_error) {
  if (slot.command == CommandId::kMSetNx) {
    return slot.msetnx->OnDecided(key_index, answer, node_error);
  }
  if (answer.failure != KeyAnswer::Failure::kNone) {
    if (slot.error.empty())
      slot.error = NoQuorumError(answer, node_error, slot.variant & kReplyWriteCommand);
    return;
  }
  const int64_t now = worker_.NowMs();
  if (answer.wrong_type) {
    if (slot.error.empty()) {
      slot.error = slot.command == CommandId::kLcs
                       ? "ERR The specified keys must contain string values"
                       : "WRONGTYPE Operation against a key holding the wrong kind of value";
    }
    return;
  }
  if (slot.command == CommandId::kSMove || IsSetAlgebra(slot.command)) {
    return FormatSetKey(slot, key_index, answer);
  }
  if (IsElementCommand(slot.command)) return FormatElementReply(slot, answer, ElementRng());
  switch (slot.command) {
    case CommandId::kGet:
    case CommandId::kGetEx:
      if (answer.live && (answer.value_type == typed::ValueType::kHash ||
                          answer.value_type == typed::ValueType::kSet)) {
        // GETEX with an option touched the key (a Touch round) before its type was known.
        slot.error = "WRONGTYPE Operation against a key holding the wrong kind of value";
      } else if (answer.live)
        resp::AppendBulk(slot.reply, answer.value);
      else
        resp::Writer(slot.reply, slot.protocol).Null();
      return;
    case CommandId::kMGet: {
      std::string& part = slot.parts[key_index];
      const bool aggregate = answer.value_type == typed::ValueType::kHash ||
                             answer.value_type == typed::ValueType::kSet;
      if (answer.live && !aggregate)  // MGET answers nil for a key of another type, as Redis
        resp::AppendBulk(part, answer.value);
      else
        resp::Writer(part, slot.protocol).Null();
      return;
    }
    case CommandId::kSet:
    case CommandId::kSetEx:
    case CommandId::kPSetEx:
    case CommandId::kSetNx:
    case CommandId::kGetDel:
    case CommandId::kGetSet:
      if (slot.variant & kReplyPrevious) {
        if (answer.live)
          resp::AppendBulk(slot.reply, answer.value);
        else
          resp::Writer(slot.reply, slot.protocol).Null();
      } else if (slot.variant & kReplyPerformed) {
        resp::AppendInteger(slot.reply, answer.performed ? 1 : 0);
      } else if ((slot.variant & kReplyConditional) && !answer.performed) {
        resp::Writer(slot.reply, slot.protocol).Null();
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
    case CommandId::kType:
      resp::AppendSimple(slot.reply,
                         answer.live ? typed::RedisTypeName(answer.value_type) : "none");
      return;
    case CommandId::kObject:  // OBJECT ENCODING: how the nodes hold it (docs/data-model.md)
      if (!answer.live) {
        resp::Writer(slot.reply, slot.protocol).Null();
      } else {
        resp::AppendBulk(slot.reply, answer.value_type == typed::ValueType::kString ? "raw"
                                     : answer.value_type == typed::ValueType::kCounter
                                         ? "pncounter"
                                         : "elements");
      }
      return;
    case CommandId::kIncr:
    case CommandId::kDecr:
    case CommandId::kIncrBy:
    case CommandId::kDecrBy:
    case CommandId::kIncrByFloat:
      if (answer.wrong_type) {
        resp::AppendError(slot.reply,
                          "WRONGTYPE Operation against a key holding the wrong kind of value");
      } else if (answer.counter_error != typed::CounterError::kNone) {
        resp::AppendError(slot.reply, typed::CounterErrorText(answer.counter_error));
      } else if (slot.command == CommandId::kIncrByFloat) {
        resp::AppendBulk(slot.reply, answer.value);
      } else {
        resp::AppendInteger(slot.reply, answer.integer);
      }
      return;
    case CommandId::kAppend:
    case CommandId::kSetRange:
      // The new value's length (SETRANGE of nothing: the old one's, 0 for no key).
      resp::AppendInteger(slot.reply, static_cast<int64_t>(answer.value.size()));
      return;
    case CommandId::kStrLen:
      resp::AppendInteger(slot.reply, answer.live ? static_cast<int64_t>(answer.value.size()) : 0);
      return;
    case CommandId::kGetRange:
    case CommandId::kSubStr:
      resp::AppendBulk(slot.reply, GetRange(answer.live ? answer.value : std::string_view(),
                                            slot.extra[0], slot.extra[1]));
      return;
    case CommandId::kLcs:
      slot.parts[key_index].assign(answer.live ? answer.value : std::string_view());
      return;
    case CommandId::kRename:
    case CommandId::kRenameNx:
    case CommandId::kCopy:
      if (slot.phase != 0 || !answer.live) return;
      if (key_index == 0) {
        slot.integer |= kSourceLive;
        if (answer.value_type == typed::ValueType::kCounter && !answer.typed_body.empty()) {
          slot.integer |= kSourceCounter;  // moved as a counter, not as the string it prints
          slot.parts[2].assign(answer.typed_body);
        } else {
          slot.parts[2].assign(answer.value);
        }
        slot.extra[0] = answer.state.expire_at_ms;
        slot.version =
            typed::DerivedVersion(answer.state.version, answer.state.effective_expiry_version());
        // A hash or set is written whole as its merged body (a counter reads as its string).
        slot.extra[1] = answer.value_type == typed::ValueType::kHash ||
                                answer.value_type == typed::ValueType::kSet
                            ? static_cast<int64_t>(answer.value_type)
                            : 0;
      } else {
        slot.integer |= kDestinationLive;
      }
      return;
    case CommandId::kTtl:
    case CommandId::kPTtl:
    case CommandId::kExpireTime:
    case CommandId::kPExpireTime: {
      int64_t v;
      if (!answer.live) {
        v = -2;
      } else if (answer.state.expire_at_ms == 0) {
        v = -1;
      } else if (slot.command == CommandId::kPExpireTime) {
        v = answer.state.expire_at_ms;
      } else if (slot.command == CommandId::kExpireTime) {
        v = (answer.state.expire_at_ms + 500) / 1000;  // rounded, as Redis 7.0
      } else {
        const int64_t ms = std::max<int64_t>(answer.state.expire_at_ms - now, 0);
        v = (slot.variant & kReplyMilliseconds) ? ms : (ms + 500) / 1000;
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
  if (slot.command == CommandId::kSMove || IsSetAlgebra(slot.command)) return FinalizeSet(slot);
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
    case CommandId::kMSetNx:
      return FinalizeMSetNx(slot);
    case CommandId::kRename:
    case CommandId::kRenameNx:
    case CommandId::kCopy:
      slot.parts.clear();
      if (slot.command != CommandId::kCopy && !(slot.integer & kSourceLive)) {
        resp::AppendError(slot.reply, "ERR no such key");
      } else if (slot.command == CommandId::kRename) {
        resp::AppendOk(slot.reply);
      } else {
        resp::AppendInteger(slot.reply, slot.phase > 0 ? 1 : 0);
      }
      return;
    case CommandId::kLcs: {
      LcsOptions o;
      o.len = slot.variant & kReplyLcsLen;
      o.idx = slot.variant & kReplyLcsIdx;
      o.with_match_len = slot.variant & kReplyLcsWithMatchLen;
      o.min_match_len = slot.extra[0];
      if (!AppendLcsReply(slot.reply, slot.protocol, slot.parts[0], slot.parts[1], o)) {
        resp::AppendError(slot.reply,
                          "ERR Insufficient memory, transient memory for LCS exceeds "
                          "proto-max-bulk-len");
      }
      slot.parts.clear();
      return;
    }
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
