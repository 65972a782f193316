#pragma once

// Key hashing: xxHash3-64 of the key, honouring Redis hash tags. When a key contains '{' followed
// later by '}' with at least one byte between them, only the bytes between the first '{' and the
// next '}' are hashed, so "{user1}.a" and "{user1}.b" land on the same replicas (Redis Cluster's
// rule: "{}x" hashes whole, "a{b}{c}" hashes "b").

#include <cstdint>
#include <string_view>

namespace shoal {

// The part of `key` that is hashed (the hash tag, or the whole key).
std::string_view HashTagOf(std::string_view key);

// Stable across builds and machines: every proxy places a key identically.
uint64_t KeyHash(std::string_view key);

// xxHash3-64 of raw bytes with a seed (ring tokens use this).
uint64_t Hash64(std::string_view bytes, uint64_t seed = 0);

}  // namespace shoal
