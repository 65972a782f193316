#include "proxy/command/command_table.h"

#include <strings.h>

#include <array>

namespace shoal::proxy {

namespace {

using C = CommandId;

// name, id, arity, first, last, step, write, no_auth, group, summary, since
constexpr std::array kCommands = {
    CommandSpec{"ping", C::kPing, -1, 0, 0, 0, false, false, "connection", "Returns the server's liveliness response.", "1.0.0"},
    CommandSpec{"echo", C::kEcho, 2, 0, 0, 0, false, false, "connection", "Returns the given string.", "1.0.0"},
    CommandSpec{"quit", C::kQuit, -1, 0, 0, 0, false, true, "connection", "Closes the connection.", "1.0.0"},
    CommandSpec{"hello", C::kHello, -1, 0, 0, 0, false, true, "connection", "Handshakes with the server.", "6.0.0"},
    CommandSpec{"auth", C::kAuth, -2, 0, 0, 0, false, true, "connection", "Authenticates the connection.", "1.0.0"},
    CommandSpec{"select", C::kSelect, 2, 0, 0, 0, false, false, "connection", "Changes the selected database (only 0 exists).", "1.0.0"},
    CommandSpec{"client", C::kClient, -2, 0, 0, 0, false, false, "connection", "A container for client connection commands.", "2.4.0"},
    CommandSpec{"info", C::kInfo, -1, 0, 0, 0, false, false, "server", "Returns information and statistics about the server.", "1.0.0"},
    CommandSpec{"command", C::kCommand, -1, 0, 0, 0, false, false, "server", "Returns detailed information about all commands.", "2.8.13"},
    CommandSpec{"get", C::kGet, 2, 1, 1, 1, false, false, "string", "Returns the string value of a key.", "1.0.0"},
    CommandSpec{"set", C::kSet, -3, 1, 1, 1, true, false, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "1.0.0"},
    CommandSpec{"setex", C::kSetEx, 4, 1, 1, 1, true, false, "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "2.0.0"},
    CommandSpec{"psetex", C::kPSetEx, 4, 1, 1, 1, true, false, "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "2.6.0"},
    CommandSpec{"setnx", C::kSetNx, 3, 1, 1, 1, true, false, "string", "Set the string value of a key only when the key doesn't exist.", "1.0.0"},
    CommandSpec{"getdel", C::kGetDel, 2, 1, 1, 1, true, false, "string", "Returns the string value of a key after deleting the key.", "6.2.0"},
    CommandSpec{"getex", C::kGetEx, -2, 1, 1, 1, true, false, "string", "Returns the string value of a key after setting its expiration time.", "6.2.0"},
    CommandSpec{"mget", C::kMGet, -2, 1, -1, 1, false, false, "string", "Atomically returns the string values of one or more keys.", "1.0.0"},
    CommandSpec{"mset", C::kMSet, -3, 1, -1, 2, true, false, "string", "Atomically creates or modifies the string values of one or more keys.", "1.0.1"},
    CommandSpec{"del", C::kDel, -2, 1, -1, 1, true, false, "generic", "Deletes one or more keys.", "1.0.0"},
    CommandSpec{"unlink", C::kUnlink, -2, 1, -1, 1, true, false, "generic", "Asynchronously deletes one or more keys.", "4.0.0"},
    CommandSpec{"exists", C::kExists, -2, 1, -1, 1, false, false, "generic", "Determines whether one or more keys exist.", "1.0.0"},
    CommandSpec{"expire", C::kExpire, -3, 1, 1, 1, true, false, "generic", "Sets the expiration time of a key in seconds.", "1.0.0"},
    CommandSpec{"pexpire", C::kPExpire, -3, 1, 1, 1, true, false, "generic", "Sets the expiration time of a key in milliseconds.", "2.6.0"},
    CommandSpec{"expireat", C::kExpireAt, -3, 1, 1, 1, true, false, "generic", "Sets the expiration time of a key to a Unix timestamp.", "1.2.0"},
    CommandSpec{"pexpireat", C::kPExpireAt, -3, 1, 1, 1, true, false, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0"},
    CommandSpec{"persist", C::kPersist, 2, 1, 1, 1, true, false, "generic", "Removes the expiration time of a key.", "2.2.0"},
    CommandSpec{"ttl", C::kTtl, 2, 1, 1, 1, false, false, "generic", "Returns the expiration time in seconds of a key.", "1.0.0"},
    CommandSpec{"pttl", C::kPTtl, 2, 1, 1, 1, false, false, "generic", "Returns the expiration time in milliseconds of a key.", "2.6.0"},
    CommandSpec{"touch", C::kTouch, -2, 1, -1, 1, false, false, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "3.2.1"},
    CommandSpec{"shoal.consistency", C::kShoalConsistency, -1, 0, 0, 0, false, false, "shoal", "Gets or sets this connection's read and write consistency (ONE, QUORUM, ALL) and quorum mode (STRICT: only owners count; SLOPPY: stored hints count toward writes).", "0.1.0"},
    CommandSpec{"flushall", C::kFlushAll, -1, 0, 0, 0, true, false, "server", "Removes all keys from all databases.", "1.0.0"},
    CommandSpec{"flushdb", C::kFlushDb, -1, 0, 0, 0, true, false, "server", "Remove all keys from the current database.", "1.0.0"},
    CommandSpec{"dbsize", C::kDbSize, 1, 0, 0, 0, false, false, "server", "Returns the number of keys in the database.", "1.0.0"},
    CommandSpec{"keys", C::kKeys, 2, 0, 0, 0, false, false, "generic", "Returns all key names that match a pattern.", "1.0.0"},
    CommandSpec{"scan", C::kScan, -2, 0, 0, 0, false, false, "generic", "Iterates over the key names in the database.", "2.8.0"},
    CommandSpec{"randomkey", C::kRandomKey, 1, 0, 0, 0, false, false, "generic", "Returns a random key name from the database.", "1.0.0"},
    CommandSpec{"type", C::kType, 2, 1, 1, 1, false, false, "generic", "Determines the type of value stored at a key.", "1.0.0"},
    CommandSpec{"append", C::kAppend, 3, 1, 1, 1, true, false, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0"},
    CommandSpec{"strlen", C::kStrLen, 2, 1, 1, 1, false, false, "string", "Returns the length of a string value.", "2.2.0"},
    CommandSpec{"getrange", C::kGetRange, 4, 1, 1, 1, false, false, "string", "Returns a substring of the string stored at a key.", "2.4.0"},
    CommandSpec{"substr", C::kSubStr, 4, 1, 1, 1, false, false, "string", "Returns a substring from a string value.", "1.0.0"},
    CommandSpec{"setrange", C::kSetRange, 4, 1, 1, 1, true, false, "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "2.2.0"},
    CommandSpec{"getset", C::kGetSet, 3, 1, 1, 1, true, false, "string", "Returns the previous string value of a key after setting it to a new value.", "1.0.0"},
    CommandSpec{"msetnx", C::kMSetNx, -3, 1, -1, 2, true, false, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "1.0.1"},
    CommandSpec{"lcs", C::kLcs, -3, 1, 2, 1, false, false, "string", "Finds the longest common substring.", "7.0.0"},
    CommandSpec{"rename", C::kRename, 3, 1, 2, 1, true, false, "generic", "Renames a key and overwrites the destination.", "1.0.0"},
    CommandSpec{"renamenx", C::kRenameNx, 3, 1, 2, 1, true, false, "generic", "Renames a key only when the target key name doesn't exist.", "1.0.0"},
    CommandSpec{"copy", C::kCopy, -3, 1, 2, 1, true, false, "generic", "Copies the value of a key to a new key.", "6.2.0"},
    CommandSpec{"incr", C::kIncr, 2, 1, 1, 1, true, false, "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0"},
    CommandSpec{"decr", C::kDecr, 2, 1, 1, 1, true, false, "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "1.0.0"},
    CommandSpec{"incrby", C::kIncrBy, 3, 1, 1, 1, true, false, "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "1.0.0"},
    CommandSpec{"decrby", C::kDecrBy, 3, 1, 1, 1, true, false, "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "1.0.0"},
    CommandSpec{"incrbyfloat", C::kIncrByFloat, 3, 1, 1, 1, true, false, "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "2.6.0"},
    CommandSpec{"function", C::kFunction, -2, 0, 0, 0, false, false, "scripting", "A container for function commands (Shoal runs no functions: FLUSH and LIST answer as for an empty library).", "7.0.0"},
    CommandSpec{"time", C::kTime, 1, 0, 0, 0, false, false, "server", "Returns the server time (the proxy's clock).", "2.6.0"},
    CommandSpec{"expiretime", C::kExpireTime, 2, 1, 1, 1, false, false, "generic", "Returns the expiration time of a key as a Unix timestamp.", "7.0.0"},
    CommandSpec{"pexpiretime", C::kPExpireTime, 2, 1, 1, 1, false, false, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0"},
    CommandSpec{"hset", C::kHSet, -4, 1, 1, 1, true, false, "hash", "Creates or modifies the value of a field in a hash.", "2.0.0"},
    CommandSpec{"hget", C::kHGet, 3, 1, 1, 1, false, false, "hash", "Returns the value of a field in a hash.", "2.0.0"},
    CommandSpec{"hmset", C::kHMSet, -4, 1, 1, 1, true, false, "hash", "Sets the values of multiple fields.", "2.0.0"},
    CommandSpec{"hmget", C::kHMGet, -3, 1, 1, 1, false, false, "hash", "Returns the values of all fields in a hash.", "2.0.0"},
    CommandSpec{"hgetall", C::kHGetAll, 2, 1, 1, 1, false, false, "hash", "Returns all fields and values in a hash.", "2.0.0"},
    CommandSpec{"hdel", C::kHDel, -3, 1, 1, 1, true, false, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "2.0.0"},
    CommandSpec{"hexists", C::kHExists, 3, 1, 1, 1, false, false, "hash", "Determines whether a field exists in a hash.", "2.0.0"},
    CommandSpec{"hlen", C::kHLen, 2, 1, 1, 1, false, false, "hash", "Returns the number of fields in a hash.", "2.0.0"},
    CommandSpec{"hkeys", C::kHKeys, 2, 1, 1, 1, false, false, "hash", "Returns all fields in a hash.", "2.0.0"},
    CommandSpec{"hvals", C::kHVals, 2, 1, 1, 1, false, false, "hash", "Returns all values in a hash.", "2.0.0"},
    CommandSpec{"hsetnx", C::kHSetNx, 4, 1, 1, 1, true, false, "hash", "Sets the value of a field in a hash only when the field doesn't exist.", "2.0.0"},
    CommandSpec{"hstrlen", C::kHStrLen, 3, 1, 1, 1, false, false, "hash", "Returns the length of the value of a field.", "3.2.0"},
    CommandSpec{"hincrby", C::kHIncrBy, 4, 1, 1, 1, true, false, "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "2.0.0"},
    CommandSpec{"hincrbyfloat", C::kHIncrByFloat, 4, 1, 1, 1, true, false, "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "2.6.0"},
    CommandSpec{"hrandfield", C::kHRandField, -2, 1, 1, 1, false, false, "hash", "Returns one or more random fields from a hash.", "6.2.0"},
    CommandSpec{"hscan", C::kHScan, -3, 1, 1, 1, false, false, "hash", "Iterates over fields and values of a hash.", "2.8.0"},
    CommandSpec{"sadd", C::kSAdd, -3, 1, 1, 1, true, false, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0"},
    CommandSpec{"srem", C::kSRem, -3, 1, 1, 1, true, false, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", "1.0.0"},
    CommandSpec{"sismember", C::kSIsMember, 3, 1, 1, 1, false, false, "set", "Determines whether a member belongs to a set.", "1.0.0"},
    CommandSpec{"smismember", C::kSMIsMember, -3, 1, 1, 1, false, false, "set", "Determines whether multiple members belong to a set.", "6.2.0"},
    CommandSpec{"smembers", C::kSMembers, 2, 1, 1, 1, false, false, "set", "Returns all members of a set.", "1.0.0"},
    CommandSpec{"scard", C::kSCard, 2, 1, 1, 1, false, false, "set", "Returns the number of members in a set.", "1.0.0"},
    CommandSpec{"srandmember", C::kSRandMember, -2, 1, 1, 1, false, false, "set", "Get one or multiple random members from a set", "1.0.0"},
    CommandSpec{"spop", C::kSPop, -2, 1, 1, 1, true, false, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", "1.0.0"},
    CommandSpec{"smove", C::kSMove, 4, 1, 2, 1, true, false, "set", "Moves a member from one set to another.", "1.0.0"},
    CommandSpec{"sinter", C::kSInter, -2, 1, -1, 1, false, false, "set", "Returns the intersect of multiple sets.", "1.0.0"},
    CommandSpec{"sinterstore", C::kSInterStore, -3, 1, -1, 1, true, false, "set", "Stores the intersect of multiple sets in a key.", "1.0.0"},
    CommandSpec{"sunion", C::kSUnion, -2, 1, -1, 1, false, false, "set", "Returns the union of multiple sets.", "1.0.0"},
    CommandSpec{"sunionstore", C::kSUnionStore, -3, 1, -1, 1, true, false, "set", "Stores the union of multiple sets in a key.", "1.0.0"},
    CommandSpec{"sdiff", C::kSDiff, -2, 1, -1, 1, false, false, "set", "Returns the difference of multiple sets.", "1.0.0"},
    CommandSpec{"sdiffstore", C::kSDiffStore, -3, 1, -1, 1, true, false, "set", "Stores the difference of multiple sets in a key.", "1.0.0"},
    CommandSpec{"sintercard", C::kSInterCard, -3, 0, 0, 0, false, false, "set", "Returns the number of members of the intersect of multiple sets.", "7.0.0"},
    CommandSpec{"sscan", C::kSScan, -3, 1, 1, 1, false, false, "set", "Iterates over members of a set.", "2.8.0"},
    CommandSpec{"shoal.locate", C::kShoalLocate, 2, 1, 1, 1, false, false, "shoal", "Returns the ids of the nodes that own a key, in preference order.", "0.1.0"},
    CommandSpec{"shoal.members", C::kShoalMembers, 1, 0, 0, 0, false, false, "shoal", "Returns the cluster's members: id, address, zone, state (JOINING, NORMAL, LEAVING, DOWN, REMOVED), phi, incarnation, heartbeat, last_heard_ms, this proxy's link (up, down, none) with its own phi of it (link_phi), and the node whose view it is (seen_by).", "0.1.0"},
    CommandSpec{"config", C::kConfig, -2, 0, 0, 0, false, false, "server", "CONFIG GET answers the parameters Shoal honours among those asked (none of Redis's: an empty list); CONFIG SET, RESETSTAT and REWRITE are refused (shoal-proxy and shoal-node take flags and YAML files).", "2.0.0"},
    CommandSpec{"object", C::kObject, -2, 0, 0, 0, false, false, "generic", "OBJECT ENCODING key: how Shoal stores the value (raw, pncounter, elements); the other subcommands are not served.", "2.2.3"},
};

}  // namespace

const CommandSpec* LookupCommand(std::string_view name) {
  for (const auto& spec : kCommands) {
    if (spec.name.size() == name.size() &&
        strncasecmp(spec.name.data(), name.data(), name.size()) == 0) {
      return &spec;
    }
  }
  return nullptr;
}

std::span<const CommandSpec> AllCommands() { return kCommands; }

}  // namespace shoal::proxy
