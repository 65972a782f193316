#pragma once

// The consistent-hash ring. Each member owns `tokens_per_node` virtual-node tokens derived from
// its id alone (token i = xxh3-64(id, seed i)), so the ring is a pure function of the member set:
// every proxy that knows the same members computes the same ring, with no agreement protocol.
//
// A key's preference list is the first N distinct members met walking clockwise from the key's
// hash (Dynamo), distinct zones first: walking clockwise, a member whose zone is already in the
// list is passed over until every zone has a member in it; the members passed over then follow in
// the order they were met. Members without a zone share one (the empty one), so a ring with no
// zones at all is the plain Dynamo walk, and with N >= number of zones every key has a replica in
// every zone (losing a whole zone never loses a key). A Ring is immutable once built; share it
// between threads as std::shared_ptr<const Ring> and swap the pointer to change membership.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"

namespace shoal {

struct RingMember {
  std::string id;         // stable identity; determines the tokens
  std::string address;    // HOST:PORT of its node protocol listener
  std::string zone = {};  // its failure domain (--zone); empty: none
};

// "a=127.0.0.1:7001,b=127.0.0.1:7002@eu-1b" → members (ids unique, addresses HOST:PORT, an
// optional "@ZONE" after the address; spaces around items ignored). Errors start with `flag` (the
// option the list came from, e.g. "--nodes").
StatusOr<std::vector<RingMember>> ParseMemberList(const std::string& text, std::string_view flag);

class Ring;
using RingPtr = std::shared_ptr<const Ring>;

class Ring {
 public:
  // Chosen so that with 10 members no member owns more than 1.2x its fair share of keys
  // (ring_test checks this on 1,000,000 keys and on the exact shares of 500 id sets). A member's
  // share spreads by about 1/sqrt(T): with 256 tokens 5 of those 500 id sets had a member above
  // 1.2x (worst 1.29x); with 512 none did (worst 1.15x; 1.17x over 2,000 other sets).
  static constexpr int kDefaultTokensPerNode = 512;
  // Most replicas a preference list can have (PreferenceList returns at most this many).
  static constexpr int kMaxReplicas = 8;

  // Fails on an empty member set, duplicate ids or tokens_per_node < 1.
  static StatusOr<RingPtr> Build(std::vector<RingMember> members,
                                 int tokens_per_node = kDefaultTokensPerNode);

  const std::vector<RingMember>& members() const { return members_; }
  int tokens_per_node() const { return tokens_per_node_; }

  // Index into members() of the member with this id, or -1.
  int IndexOf(std::string_view id) const;

  // Writes the indices (into members()) of the first min(n, members, kMaxReplicas) members of
  // the preference list of `hash` (distinct members clockwise, distinct zones first: see the top
  // of this file) into `out`, in preference order; returns how many.
  int PreferenceList(uint64_t hash, int n, int* out) const;

  // Every token's position, in ring order. A hash h belongs to the arc ending at the first
  // position >= h (wrapping), whose preference list is PreferenceList(position): so these
  // positions enumerate every distinct preference list (SCAN skips members first in none).
  std::vector<uint64_t> TokenPositions() const;

  // Convenience for tests and tools: the preference list of a key as member indices.
  std::vector<int> OwnersOfKey(std::string_view key, int n) const;

  // The ring cut into its token ranges, in ring order (for operators: ownership summaries, and
  // whether a quorum can be reached for some range). Range i holds the hashes in (start, end],
  // end being token i's position; the first range wraps past 2^64 (its start is the last token's
  // position). Every hash of a range has the same preference list: `replicas[0..count)`, count =
  // min(n, members, kMaxReplicas). end - start (unsigned, wrapping) is the range's size.
  struct Range {
    uint64_t start = 0;
    uint64_t end = 0;
    int replicas[kMaxReplicas] = {};
    int count = 0;
  };
  std::vector<Range> Ranges(int n) const;

 private:
  Ring() = default;

  struct Token {
    uint64_t position;
    int member;
  };

  std::vector<RingMember> members_;
  int tokens_per_node_ = 0;
  std::vector<Token> tokens_;  // sorted by position
  // For token t, the first min(kMaxReplicas, members) members of its preference list,
  // precomputed so a lookup is one binary search and a copy.
  std::vector<int> successors_;
  int successors_per_token_ = 0;
  // Index of the hash space: bucket b (the top `bucket_bits_` bits of a hash) holds the index of
  // the first token at or after the bucket's start, so a lookup is a table read and a short scan
  // (about two tokens per bucket) instead of a binary search over every token.
  std::vector<uint32_t> bucket_first_token_;
  int bucket_bits_ = 0;
};

}  // namespace shoal
