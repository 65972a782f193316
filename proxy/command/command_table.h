#pragma once

// The commands shoal-proxy serves, with Redis's arity convention (positive: exact argument count
// including the name; negative: at least that many) and the metadata COMMAND reports.

#include <cstdint>
#include <span>
#include <string_view>

namespace shoal::proxy {

enum class CommandId : unsigned char {
  // connection
  kPing, kEcho, kQuit, kHello, kAuth, kSelect, kClient, kInfo, kCommand,
  // keys
  kGet, kSet, kSetEx, kPSetEx, kSetNx, kGetDel, kGetEx, kMGet, kMSet, kDel, kUnlink, kExists,
  kExpire, kPExpire, kExpireAt, kPExpireAt, kPersist, kTtl, kPTtl, kTouch,
  // shoal
  kShoalConsistency, kShoalLocate, kShoalMembers,
  // keyspace (fanned out over every node: proxy/server/commands_keyspace.cc)
  kFlushAll, kFlushDb, kDbSize, kKeys, kScan, kRandomKey,
  // keys (appended)
  kType, kAppend, kStrLen, kGetRange, kSubStr, kSetRange, kGetSet, kMSetNx, kLcs, kRename,
  kRenameNx, kCopy,
  // counters (PN-counters: docs/data-model.md)
  kIncr, kDecr, kIncrBy, kDecrBy, kIncrByFloat,
  // server (appended): FUNCTION FLUSH / LIST only (Shoal runs no functions); TIME
  kFunction, kTime,
  // keys (appended)
  kExpireTime, kPExpireTime,
  // hashes (per-field versions: docs/data-model.md)
  kHSet, kHGet, kHMSet, kHMGet, kHGetAll, kHDel, kHExists, kHLen, kHKeys, kHVals, kHSetNx,
  kHStrLen, kHIncrBy, kHIncrByFloat, kHRandField, kHScan,
  // sets (per-member versions: docs/data-model.md)
  kSAdd, kSRem, kSIsMember, kSMIsMember, kSMembers, kSCard, kSRandMember, kSPop, kSMove, kSInter,
  kSInterStore, kSUnion, kSUnionStore, kSDiff, kSDiffStore, kSInterCard, kSScan,
  // server (appended): CONFIG GET (no Redis parameter is Shoal's) and a refused CONFIG SET
  kConfig,
  // keys (appended): OBJECT ENCODING (Shoal's own encoding names: docs/data-model.md)
  kObject,
};

struct CommandSpec {
  std::string_view name;  // lower case, as Redis reports it
  CommandId id;
  int arity;
  // Key positions for COMMAND (Redis: first, last (-1 = last arg), step); 0 = no keys.
  int first_key;
  int last_key;
  int step;
  bool write;            // modifies data
  bool no_auth;          // allowed before AUTH (Redis: AUTH, HELLO, QUIT)
  std::string_view group;    // COMMAND DOCS group: "connection", "string", "generic", "shoal"
  std::string_view summary;  // COMMAND DOCS summary
  std::string_view since;    // Redis version that introduced it (shoal.* : "0.1.0")
};

// INCR DECR INCRBY DECRBY INCRBYFLOAT: a counter delta per client connection, whose increments
// must therefore run one after the other (read-modify-write).
inline bool IsCounterCommand(CommandId id) {
  return id == CommandId::kIncr || id == CommandId::kDecr || id == CommandId::kIncrBy ||
         id == CommandId::kDecrBy || id == CommandId::kIncrByFloat;
}

// Hash and set writes: a delta of the elements changed, computed from the merged body read (a
// HINCRBY field is a counter component of the client connection, like INCR's).
inline bool IsElementWrite(CommandId id) {
  return id == CommandId::kHSet || id == CommandId::kHMSet || id == CommandId::kHDel ||
         id == CommandId::kHSetNx || id == CommandId::kHIncrBy || id == CommandId::kHIncrByFloat ||
         id == CommandId::kSAdd || id == CommandId::kSRem || id == CommandId::kSPop;
}

// SINTER SUNION SDIFF (+STORE) SINTERCARD: every key read, combined by the connection.
inline bool IsSetAlgebra(CommandId id) {
  return id == CommandId::kSInter || id == CommandId::kSInterStore || id == CommandId::kSUnion ||
         id == CommandId::kSUnionStore || id == CommandId::kSDiff || id == CommandId::kSDiffStore ||
         id == CommandId::kSInterCard;
}

// Commands that write a value computed from the key's current one (see ClientConnection,
// "Read-modify-write").
inline bool IsReadModifyWrite(CommandId id) {
  return id == CommandId::kAppend || id == CommandId::kSetRange || id == CommandId::kMSetNx ||
         id == CommandId::kRename || id == CommandId::kRenameNx || id == CommandId::kCopy ||
         IsCounterCommand(id) || IsElementWrite(id) || id == CommandId::kSMove ||
         id == CommandId::kSInterStore ||
         id == CommandId::kSUnionStore || id == CommandId::kSDiffStore;
}

// Case-insensitive lookup; nullptr when unknown.
const CommandSpec* LookupCommand(std::string_view name);

std::span<const CommandSpec> AllCommands();

inline bool ArityOk(const CommandSpec& spec, size_t argc) {
  const int64_t n = static_cast<int64_t>(argc);
  return spec.arity >= 0 ? n == spec.arity : n >= -spec.arity;
}

}  // namespace shoal::proxy
