#pragma once

// The replies of hash and set commands, formatted from a key's decided answer:
// the merged body (common/typed/elements.h) the quorum read resolved, or the element transform's
// outcome (proxy/quorum/element_mutation.h), with Redis 7's reply shapes and errors. Owned by the
// worker thread of the slot's connection.
//
// Order: Redis lists a small hash in insertion order; Shoal's bodies are sorted by field name, so
// HGETALL, HKEYS, HVALS and HSCAN list fields by name (every Redis client treats them as
// unordered). HSCAN answers the whole hash in one reply with cursor 0 (as Redis does for small
// hashes; COUNT is a hint).

#include <random>
#include <string_view>
#include <vector>

#include "proxy/quorum/key_operation.h"
#include "proxy/server/reply_slot.h"

namespace shoal::proxy {

// True for the commands FormatElementReply formats (one key: hash commands, and set commands
// but SMOVE and the set algebra, commands_sets.cc).
bool IsElementCommand(CommandId id);
// Every set command.
bool IsSetCommand(CommandId id);
// The live names of a hash or set body, sorted (none when it does not decode).
void LiveNames(std::string_view body, std::vector<std::string_view>* out);

// Appends the reply of `slot.command` for `answer` (not a failure, not wrong_type) to slot.reply.
// slot.parts holds the command's arguments after the key; slot.variant and slot.extra its parsed
// options (proxy/command/key_commands.h). `rng`: HRANDFIELD's choices.
void FormatElementReply(ReplySlot& slot, const KeyAnswer& answer, std::mt19937_64& rng);

}  // namespace shoal::proxy
