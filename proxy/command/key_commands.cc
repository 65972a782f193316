#include "proxy/command/key_commands.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "common/typed/counter.h"
#include "common/typed/elements.h"
#include "common/wire/frame.h"
#include "proxy/command/args.h"
#include "proxy/command/scan_args.h"

namespace shoal::proxy {

namespace {

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

// What a Put frame adds to its key and value: envelope, table and vtable, two versions, expiry,
// flags and alignment padding (a generous bound: FlatBuffers needs well under 200 bytes).
constexpr uint64_t kPutFrameOverhead = 256;

// Redis's proto-max-bulk-len default: the largest string SETRANGE may make.
constexpr uint64_t kMaxStringBytes = 512ull << 20;

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

std::string PlanKeyCommand(const CommandSpec& spec, std::span<const std::string_view> args,
                           int64_t now_ms, uint64_t put_frame_limit, KeyCommand* out) {
  const size_t last_key = spec.last_key < 0 ? args.size() + spec.last_key : spec.last_key;
  for (size_t k = spec.first_key; spec.step > 0 && k <= last_key && k < args.size();
       k += spec.step) {
    if (args[k].size() > kMaxKeyBytes) {
      return "ERR key is too long (Shoal's limit is " + std::to_string(kMaxKeyBytes) + " bytes)";
    }
  }
  *out = KeyCommand{};
  KeyCommand& c = *out;
  KeyPlan& plan = c.plan;
  c.write_level = spec.write;
  if (spec.write) c.reply |= kReplyWriteCommand;
  c.keys = 1;
  // Commands that read a string: a hash or set answers WRONGTYPE (SET ... GET: below).
  switch (spec.id) {
    case CommandId::kGet:
    case CommandId::kGetEx:
    case CommandId::kGetDel:
    case CommandId::kGetSet:
    case CommandId::kAppend:
    case CommandId::kSetRange:
    case CommandId::kStrLen:
    case CommandId::kGetRange:
    case CommandId::kSubStr:
    case CommandId::kLcs:
      plan.string_only = true;
      break;
    default:
      break;
  }

  switch (spec.id) {
    case CommandId::kGet:
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      return "";
    case CommandId::kGetEx: {
      GetExOptions opts;
      std::string err = ParseGetExOptions(args.subspan(2), now_ms, &opts);
      if (!err.empty()) return err;
      if (!opts.touch) {
        plan.mode = KeyMode::kRead;
        plan.want_value = true;
        c.write_level = false;
        return "";
      }
      plan.mode = KeyMode::kTouch;
      plan.touch_wants_value = true;
      plan.expire_at_ms = opts.expire_at_ms;
      return "";
    }
    case CommandId::kSet:
    case CommandId::kSetEx:
    case CommandId::kPSetEx:
    case CommandId::kSetNx: {
      plan.mode = KeyMode::kWrite;
      plan.value = args[2];
      if (spec.id == CommandId::kSet) {
        SetOptions opts;
        std::string err = ParseSetOptions(args.subspan(3), now_ms, &opts);
        if (!err.empty()) return err;
        plan.expire_at_ms = opts.expire_at_ms;
        if (opts.get || opts.keep_ttl || opts.condition != SetCondition::kNone) {
          plan.mode = KeyMode::kReadThenWrite;
          plan.want_value = opts.get;
          plan.string_only = opts.get;
          plan.keep_expiry = opts.keep_ttl;
          plan.condition = opts.condition == SetCondition::kIfAbsent    ? KeyCondition::kIfAbsent
                           : opts.condition == SetCondition::kIfPresent ? KeyCondition::kIfPresent
                                                                        : KeyCondition::kNone;
        }
        if (opts.get) c.reply |= kReplyPrevious;
        if (opts.condition != SetCondition::kNone) c.reply |= kReplyConditional;
      } else if (spec.id == CommandId::kSetNx) {
        plan.mode = KeyMode::kReadThenWrite;
        plan.condition = KeyCondition::kIfAbsent;
        c.reply |= kReplyPerformed;
      } else {
        const bool ms = spec.id == CommandId::kPSetEx;
        std::string err =
            ParsePositiveExpiry(args[2], ms, false, now_ms, spec.name, &plan.expire_at_ms);
        if (!err.empty()) return err;
        plan.value = args[3];
      }
      return CheckPutSize(args[1], plan.value, put_frame_limit);
    }
    case CommandId::kGetDel:
      plan.mode = KeyMode::kReadThenWrite;
      plan.want_value = true;
      plan.condition = KeyCondition::kIfPresent;
      plan.tombstone = true;
      c.reply |= kReplyPrevious;
      return "";
    case CommandId::kMGet:
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      c.keys = static_cast<uint32_t>(args.size() - 1);
      return "";
    case CommandId::kMSet:
      if (args.size() % 2 == 0) return "ERR wrong number of arguments for 'mset' command";
      for (size_t k = 1; k + 1 < args.size(); k += 2) {  // refused whole, before any key is written
        std::string err = CheckPutSize(args[k], args[k + 1], put_frame_limit);
        if (!err.empty()) return err;
      }
      plan.mode = KeyMode::kWrite;
      c.keys = static_cast<uint32_t>((args.size() - 1) / 2);
      c.key_step = 2;
      c.value_per_key = true;
      return "";
    case CommandId::kDel:
    case CommandId::kUnlink:
    case CommandId::kExists:
    case CommandId::kTouch: {
      const bool del = spec.id == CommandId::kDel || spec.id == CommandId::kUnlink;
      plan.mode = del ? KeyMode::kWrite : KeyMode::kRead;
      plan.tombstone = del;
      c.keys = static_cast<uint32_t>(args.size() - 1);
      return "";
    }
    case CommandId::kExpire:
    case CommandId::kPExpire:
    case CommandId::kExpireAt:
    case CommandId::kPExpireAt: {
      const bool ms = spec.id == CommandId::kPExpire || spec.id == CommandId::kPExpireAt;
      const bool absolute = spec.id == CommandId::kExpireAt || spec.id == CommandId::kPExpireAt;
      ExpireArgs ea;
      std::string err = ParseExpireArgs(args.subspan(2), ms, absolute, now_ms, spec.name, &ea);
      if (!err.empty()) return err;
      const bool past = ea.expire_at_ms <= now_ms;  // Redis deletes the key
      if (ea.condition != ExpireCondition::kNone) {
        // Judged once on the resolved state, then an unconditional Touch (or a delete).
        plan.mode = KeyMode::kReadThenWrite;
        plan.condition = ToKeyCondition(ea.condition);
        plan.condition_expire_at_ms = ea.expire_at_ms;
        plan.write_is_touch = !past;
        plan.tombstone = past;
        plan.expire_at_ms = past ? 0 : ea.expire_at_ms;
        c.reply |= kReplyPerformed;
      } else if (past) {
        plan.mode = KeyMode::kWrite;
        plan.tombstone = true;
        c.reply |= kReplyPreviousLive;
      } else {
        plan.mode = KeyMode::kTouch;
        plan.expire_at_ms = ea.expire_at_ms;
      }
      return "";
    }
    case CommandId::kPersist:
      plan.mode = KeyMode::kTouch;
      plan.expire_at_ms = 0;
      return "";
    case CommandId::kAppend:
    case CommandId::kSetRange: {
      plan.mode = KeyMode::kReadThenWrite;
      plan.want_value = true;
      plan.keep_expiry = true;  // Redis keeps the TTL
      plan.conditional = true;  // optimistic, retried on conflict (docs/data-model.md)
      plan.transform =
          spec.id == CommandId::kAppend ? ValueTransform::kAppend : ValueTransform::kSetRange;
      plan.value = args[spec.id == CommandId::kAppend ? 2 : 3];
      if (spec.id == CommandId::kSetRange) {
        int64_t offset;
        if (!ParseInt64(args[2], &offset)) return std::string(kErrNotInteger);
        if (offset < 0) return "ERR offset is out of range";
        if (!plan.value.empty() &&
            static_cast<uint64_t>(offset) + plan.value.size() > kMaxStringBytes) {
          return "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
        }
        plan.transform_offset = offset;
      }
      return CheckPutSize(args[1], plan.value, put_frame_limit);
    }
    case CommandId::kIncr:
    case CommandId::kDecr:
    case CommandId::kIncrBy:
    case CommandId::kDecrBy: {
      // A PN-counter delta at the write consistency (KeyPlan: ValueTransform::kIncrBy).
      int64_t by = spec.id == CommandId::kDecr ? -1 : 1;
      if (spec.id == CommandId::kIncrBy || spec.id == CommandId::kDecrBy) {
        if (!ParseInt64(args[2], &by)) return std::string(kErrNotInteger);
        if (spec.id == CommandId::kDecrBy) {
          if (by == std::numeric_limits<int64_t>::min()) {
            return "ERR decrement would overflow";
          }
          by = -by;
        }
      }
      plan.mode = KeyMode::kReadThenWrite;
      plan.want_value = true;
      plan.transform = ValueTransform::kIncrBy;
      plan.incr_by = by;
      return "";
    }
    case CommandId::kIncrByFloat: {
      long double by = 0;
      if (!typed::ParseRedisLongDouble(args[2], &by)) return "ERR value is not a valid float";
      plan.mode = KeyMode::kReadThenWrite;
      plan.want_value = true;
      plan.transform = ValueTransform::kIncrByFloat;
      plan.incr_by_float = by;
      return "";
    }
    case CommandId::kStrLen:
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      return "";
    case CommandId::kGetRange:
    case CommandId::kSubStr:
      if (!ParseInt64(args[2], &c.extra[0]) || !ParseInt64(args[3], &c.extra[1])) {
        return std::string(kErrNotInteger);
      }
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      return "";
    case CommandId::kGetSet:
      plan.mode = KeyMode::kReadThenWrite;  // SET key value GET, optimistic (as APPEND)
      plan.want_value = true;
      plan.conditional = true;
      plan.value = args[2];
      c.reply |= kReplyPrevious;
      return CheckPutSize(args[1], plan.value, put_frame_limit);
    case CommandId::kMSetNx:
      if (args.size() % 2 == 0) return "ERR wrong number of arguments for 'msetnx' command";
      for (size_t k = 1; k + 1 < args.size(); k += 2) {
        std::string err = CheckPutSize(args[k], args[k + 1], put_frame_limit);
        if (!err.empty()) return err;
      }
      plan.mode = KeyMode::kRead;  // at the write consistency (spec.write); the writes follow
      c.keys = static_cast<uint32_t>((args.size() - 1) / 2);
      c.key_step = 2;
      return "";
    case CommandId::kLcs: {
      for (size_t j = 3; j < args.size(); ++j) {
        const bool more = j + 1 < args.size();
        if (EqualsIgnoreCase(args[j], "idx")) {
          c.reply |= kReplyLcsIdx;
        } else if (EqualsIgnoreCase(args[j], "len")) {
          c.reply |= kReplyLcsLen;
        } else if (EqualsIgnoreCase(args[j], "withmatchlen")) {
          c.reply |= kReplyLcsWithMatchLen;
        } else if (EqualsIgnoreCase(args[j], "minmatchlen") && more) {
          if (!ParseInt64(args[j + 1], &c.extra[0])) return std::string(kErrNotInteger);
          if (c.extra[0] < 0) c.extra[0] = 0;
          ++j;
        } else {
          return std::string(kErrSyntax);
        }
      }
      if ((c.reply & kReplyLcsIdx) && (c.reply & kReplyLcsLen)) {
        return "ERR If you want both the length and indexes, please just use IDX.";
      }
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      c.keys = 2;
      return "";
    }
    case CommandId::kRename:
    case CommandId::kRenameNx:
    case CommandId::kCopy: {
      // Phase 0 reads the source (value and expiry) and, when the destination must be absent,
      // the destination, at the write consistency; ClientConnection::NextPhase writes the
      // destination, then (RENAME*) deletes the source.
      bool replace = spec.id == CommandId::kRename;
      for (size_t j = 3; j < args.size(); ++j) {  // COPY only (the others have arity 3)
        if (EqualsIgnoreCase(args[j], "replace")) {
          replace = true;
        } else if (EqualsIgnoreCase(args[j], "db") && j + 1 < args.size()) {
          int64_t db;
          if (!ParseInt64(args[j + 1], &db) || db < INT32_MIN || db > INT32_MAX) {
            return std::string(kErrNotInteger);
          }
          if (db != 0) return "ERR DB index is out of range";  // one keyspace (SELECT 0)
          ++j;
        } else {
          return std::string(kErrSyntax);
        }
      }
      const bool same = args[1] == args[2];
      if (spec.id == CommandId::kCopy && same) {
        return "ERR source and destination objects are the same";
      }
      if (replace) c.reply |= kReplyRenameReplace;
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      c.keys = same || replace ? 1 : 2;
      return "";
    }
    case CommandId::kType:
      plan.mode = KeyMode::kRead;
      return "";
    case CommandId::kObject: {
      // OBJECT ENCODING key only: Shoal keeps no LRU/LFU clock or reference count per key.
      const std::string_view sub = args[1];
      if (!EqualsIgnoreCase(sub, "encoding")) {
        for (std::string_view known : {"freq", "idletime", "refcount", "help"}) {
          if (EqualsIgnoreCase(sub, known)) {
            std::string name(sub);
            for (char& ch : name)
              ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            return "ERR OBJECT " + name + " is not supported by Shoal (only OBJECT ENCODING)";
          }
        }
        return "ERR unknown subcommand '" + std::string(sub) + "'. Try OBJECT HELP.";
      }
      if (args.size() != 3) return "ERR wrong number of arguments for 'object|encoding' command";
      if (args[2].size() > kMaxKeyBytes) {
        return "ERR key is too long (Shoal's limit is " + std::to_string(kMaxKeyBytes) + " bytes)";
      }
      plan.mode = KeyMode::kRead;
      c.first_key = 2;
      return "";
    }
    case CommandId::kSAdd:
    case CommandId::kSRem:
    case CommandId::kSPop:
    case CommandId::kHSet:
    case CommandId::kHMSet:
    case CommandId::kHSetNx:
    case CommandId::kHDel:
    case CommandId::kHIncrBy:
    case CommandId::kHIncrByFloat: {
      plan.mode = KeyMode::kReadThenWrite;
      plan.want_value = true;
      plan.transform = ValueTransform::kElements;
      plan.element_args = args.subspan(2);
      if (spec.id == CommandId::kHSet || spec.id == CommandId::kHMSet) {
        if (args.size() % 2 != 0) {
          return "ERR wrong number of arguments for '" + std::string(spec.name) + "' command";
        }
        plan.element_op = ElementOp::kHSet;
      } else if (spec.id == CommandId::kHSetNx) {
        plan.element_op = ElementOp::kHSetNx;
      } else if (spec.id == CommandId::kHDel) {
        plan.element_op = ElementOp::kHDel;
      } else if (spec.id == CommandId::kSAdd) {
        plan.element_op = ElementOp::kSAdd;
      } else if (spec.id == CommandId::kSRem) {
        plan.element_op = ElementOp::kSRem;
      } else if (spec.id == CommandId::kSPop) {
        plan.element_op = ElementOp::kSPop;
        plan.element_args = {};
        plan.element_count = 1;
        if (args.size() > 3) return std::string(kErrSyntax);
        if (args.size() == 3) {
          if (!ParseInt64(args[2], &plan.element_count) || plan.element_count < 0) {
            return "ERR value is out of range, must be positive";
          }
          c.reply |= kReplyRandCount;
        }
      } else if (spec.id == CommandId::kHIncrBy) {
        if (!ParseInt64(args[3], &plan.incr_by)) return std::string(kErrNotInteger);
        plan.element_op = ElementOp::kHIncrBy;
        plan.element_args = args.subspan(2, 1);
      } else {
        if (!typed::ParseRedisLongDouble(args[3], &plan.incr_by_float)) {
          return "ERR value is not a valid float";
        }
        if (std::isinf(plan.incr_by_float)) return "ERR value is NaN or Infinity";
        plan.element_op = ElementOp::kHIncrByFloat;
        plan.element_args = args.subspan(2, 1);
      }
      // The delta (fields and values, each with its element overhead) in one Put frame.
      uint64_t bytes = 0;
      for (size_t j = 2; j < args.size(); ++j) bytes += args[j].size() + typed::kElementOverhead;
      if (bytes + args[1].size() + kPutFrameOverhead > put_frame_limit) {
        return "ERR value too large: " + std::to_string(bytes) +
               " bytes of fields, more than the storage nodes accept in one write (node "
               "--max-frame-size " +
               std::to_string(put_frame_limit) + ")";
      }
      return "";
    }
    case CommandId::kHRandField:
      if (args.size() >= 3) {
        if (!ParseInt64(args[2], &c.extra[0])) return std::string(kErrNotInteger);
        if (c.extra[0] == INT64_MIN) return std::string(kErrCountRange);
        c.reply |= kReplyRandCount;
        if (args.size() > 4 || (args.size() == 4 && !EqualsIgnoreCase(args[3], "withvalues"))) {
          return std::string(kErrSyntax);
        }
        if (args.size() == 4) {
          if (c.extra[0] < -INT64_MAX / 2 || c.extra[0] > INT64_MAX / 2) {
            return "ERR value is out of range";
          }
          c.reply |= kReplyWithValues;
        }
      }
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      return "";
    case CommandId::kSRandMember:
      if (args.size() > 3) return std::string(kErrSyntax);
      if (args.size() == 3) {
        if (!ParseInt64(args[2], &c.extra[0])) return std::string(kErrNotInteger);
        if (c.extra[0] == INT64_MIN) return std::string(kErrCountRange);
        c.reply |= kReplyRandCount;
      }
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      return "";
    case CommandId::kSMove:
      // Phase 0 reads both keys (Redis's checks); then SREM from the source and, when it held
      // the member, SADD to the destination (ClientConnection::NextSetPhase): not atomic.
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      c.keys = 2;
      return "";
    case CommandId::kSInter:
    case CommandId::kSUnion:
    case CommandId::kSDiff:
    case CommandId::kSInterStore:
    case CommandId::kSUnionStore:
    case CommandId::kSDiffStore:
      plan.mode = KeyMode::kRead;  // the STORE variants: at the write consistency, then a write
      plan.want_value = true;
      c.first_key = spec.arity == -3 ? 2 : 1;
      c.keys = static_cast<uint32_t>(args.size() - c.first_key);
      return "";
    case CommandId::kSInterCard: {
      int64_t numkeys = 0;
      if (!ParseInt64(args[1], &numkeys) || numkeys <= 0) {
        return "ERR numkeys should be greater than 0";
      }
      if (static_cast<uint64_t>(numkeys) > args.size() - 2) {
        return "ERR Number of keys can't be greater than number of args";
      }
      for (size_t j = 2 + static_cast<size_t>(numkeys); j < args.size(); ++j) {
        if (EqualsIgnoreCase(args[j], "limit") && j + 1 < args.size()) {
          if (!ParseInt64(args[j + 1], &c.extra[0]) || c.extra[0] < 0) {
            return "ERR LIMIT can't be negative";
          }
          ++j;
        } else {
          return std::string(kErrSyntax);
        }
      }
      for (size_t j = 2; j < 2 + static_cast<size_t>(numkeys); ++j) {
        if (args[j].size() > kMaxKeyBytes) {
          return "ERR key is too long (Shoal's limit is " + std::to_string(kMaxKeyBytes) +
                 " bytes)";
        }
      }
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      c.first_key = 2;
      c.keys = static_cast<uint32_t>(numkeys);
      return "";
    }
    case CommandId::kSScan:
    case CommandId::kHScan: {
      // The cursor first; the options once the key is read (Redis 7.4: a missing key answers
      // the empty scan whatever follows, a key of another type WRONGTYPE).
      ScanArgs scan;
      std::string err = ParseScanArgs(args.subspan(2, 1), &scan);
      if (!err.empty()) return err;
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      return "";
    }
    case CommandId::kHGet:
    case CommandId::kHMGet:
    case CommandId::kHGetAll:
    case CommandId::kHExists:
    case CommandId::kHLen:
    case CommandId::kHKeys:
    case CommandId::kHVals:
    case CommandId::kHStrLen:
    case CommandId::kSIsMember:
    case CommandId::kSMIsMember:
    case CommandId::kSMembers:
    case CommandId::kSCard:
      plan.mode = KeyMode::kRead;
      plan.want_value = true;
      return "";
    case CommandId::kTtl:
    case CommandId::kPTtl:
    case CommandId::kExpireTime:
    case CommandId::kPExpireTime:
      plan.mode = KeyMode::kRead;
      if (spec.id == CommandId::kPTtl) c.reply |= kReplyMilliseconds;
      return "";
    default:
      return "ERR command not implemented";
  }
}

}  // namespace shoal::proxy
