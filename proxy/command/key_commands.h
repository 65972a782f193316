#pragma once

// From a key command's arguments to the KeyPlan each of its keys runs (proxy/quorum/
// key_operation.h says what each mode does, docs/replication.md why), with Redis 7's argument
// rules and error wording. Pure: no I/O and no clock read (the caller passes `now_ms`). Both the
// proxy's client connections (proxy/server/commands_keys.cc) and the replication simulation
// (tools/sim/sim_proxy.cc) build their operations here, so the simulation runs the very plans the
// proxy runs. The families:
//
//   reads           GET, GETEX (no option), MGET, EXISTS, TOUCH, TTL, PTTL          KeyMode::kRead
//   blind writes    SET, SETEX, PSETEX, MSET, DEL, UNLINK, EXPIRE* in the past       kWrite
//   touches         EXPIRE* (future, no condition), PERSIST, GETEX with an option    kTouch
//   read-then-write SET NX/XX/GET/KEEPTTL, SETNX, GETDEL, EXPIRE* NX/XX/GT/LT, GETSET,
//                   APPEND and SETRANGE (a value computed from the one read)    kReadThenWrite
//   string reads    STRLEN, GETRANGE, SUBSTR, LCS (two keys), TYPE               kRead
//   MSETNX          every key read at the write consistency; the writes follow only if none is
//                   live (ClientConnection's second phase)                        kRead, kWrite
//   hash writes     HSET HMSET HSETNX HDEL HINCRBY HINCRBYFLOAT: a delta of the fields changed,
//                   computed from the merged body read (ValueTransform::kElements) kReadThenWrite
//   hash reads      HGET HMGET HGETALL HEXISTS HLEN HKEYS HVALS HSTRLEN HRANDFIELD HSCAN: the
//                   merged body, formatted by the connection                      kRead
//   RENAME(NX), COPY  the source (and the destination, unless it is replaced) read at the
//                   write consistency, then the destination written, then (RENAME*) the source
//                   deleted: three phases, not atomic                             kRead, kWrite

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proxy/command/command_table.h"
#include "proxy/quorum/key_operation.h"

namespace shoal::proxy {

// KeyCommand::reply bits: how the client's reply is formed from the keys' answers.
inline constexpr uint8_t kReplyPrevious = 1;       // SET ... GET, GETDEL: the previous value
inline constexpr uint8_t kReplyConditional = 2;    // SET NX/XX: nil when the condition did not hold
inline constexpr uint8_t kReplyMilliseconds = 16;  // PTTL
inline constexpr uint8_t kReplyPerformed = 32;     // SETNX, EXPIRE NX|XX|GT|LT: 1 when it held
inline constexpr uint8_t kReplyPreviousLive = 64;  // EXPIRE in the past (a delete): 1 if was live
// LCS's options (its reply bits are its own: LCS is no write and has no other variant).
inline constexpr uint8_t kReplyLcsLen = 1;
inline constexpr uint8_t kReplyLcsIdx = 2;
inline constexpr uint8_t kReplyLcsWithMatchLen = 4;
// HRANDFIELD's (its own bits too): a count was given; WITHVALUES.
inline constexpr uint8_t kReplyRandCount = 1;
inline constexpr uint8_t kReplyWithValues = 2;
// RENAME and COPY REPLACE: the destination is overwritten (not read first).
inline constexpr uint8_t kReplyRenameReplace = 1;
inline constexpr uint8_t kReplyWriteCommand = 128;  // the command writes (its read phase is a
                                                    // write's: NOQUORUM says "write")

// One key command, planned. Key i is args[first_key + i * key_step].
struct KeyCommand {
  // Every key's plan, without n, required and value_replica (the runner fills those in from the
  // ring and the consistency level). MSET: each key's value is the argument after it (PlanFor).
  KeyPlan plan;
  bool write_level = false;  // run at the connection's write consistency, else at its read one
  uint8_t reply = 0;         // kReply* bits
  uint32_t keys = 0;         // key operations to start, in key order
  size_t first_key = 1;
  size_t key_step = 1;
  bool value_per_key = false;  // MSET
  // Arguments the reply needs, kept by the runner: GETRANGE / SUBSTR start and end; LCS's
  // MINMATCHLEN (extra[0]).
  int64_t extra[2] = {0, 0};

  std::string_view Key(std::span<const std::string_view> args, uint32_t i) const {
    return args[first_key + i * key_step];
  }
  // Key i's plan. Its value points into `args`.
  KeyPlan PlanFor(std::span<const std::string_view> args, uint32_t i) const {
    KeyPlan p = plan;
    if (value_per_key) p.value = args[first_key + i * key_step + 1];
    return p;
  }
};

// Plans the key command `spec` (args[0] is its name; its arity has been checked). Returns "" and
// fills *out, or the error line to reply with (without '-'), leaving *out unspecified.
// `put_frame_limit`: the largest request frame every node accepts (Worker::
// SmallestNodeFrameLimit; UINT64_MAX: none known): a SET-family command or MSET whose Put frame
// would be larger is refused before anything is sent (MSET whole).
std::string PlanKeyCommand(const CommandSpec& spec, std::span<const std::string_view> args,
                           int64_t now_ms, uint64_t put_frame_limit, KeyCommand* out);

}  // namespace shoal::proxy
