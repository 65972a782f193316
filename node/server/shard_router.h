#pragma once

// Which shard (and so which loop thread) of a node owns a key.
//
// The ring places keys on nodes with the whole 64-bit KeyHash; inside a node the shard is picked
// from the high 32 bits only, so that the keys one node holds (a contiguous run of ring
// positions) still spread evenly over its shards. Hash tags are honoured (KeyHash), so
// "{user1}.a" and "{user1}.b" share a shard as they share replicas.

#include <cstdint>
#include <string_view>

#include "common/hash/key_hash.h"

namespace shoal::node {

inline uint32_t ShardOfHash(uint64_t key_hash, uint32_t shards) {
  return static_cast<uint32_t>((key_hash >> 32) % shards);
}

inline uint32_t ShardOf(std::string_view key, uint32_t shards) {
  return shards == 1 ? 0 : ShardOfHash(KeyHash(key), shards);
}

}  // namespace shoal::node
