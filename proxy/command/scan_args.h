#pragma once

// SCAN's cursor and arguments (proxy/server/commands_scan.cc runs the traversal). Pure.
//
// The cursor a client sees says where the traversal over the ring is:
//
//   63        56 55        48 47                                  0
//   +-----------+-----------+-------------------------------------+
//   | position  | substitute|  node cursor (ScanRequest.cursor)    |
//   +-----------+-----------+-------------------------------------+
//
// Positions are the ring's members in index order. Position p returns the keys for which p is one
// of the N - W + 1 smallest member indexes of their preference list (the key's "readers"; W the
// write consistency), read from member p itself (substitute 0) or, when p cannot answer (down,
// warming, syncing), from every other member in turn (substitute k + 1 = member k), keeping the
// same keys. A key acknowledged by W replicas is held by at least one of its N - W + 1 readers, so
// a key present for the whole scan is returned at least once even when one replica missed the
// write or restarted empty (like a quorum read), and while at most N - 1 of its replicas fail; it
// is returned once per reader (N - W + 1 times: twice with N = 3 and QUORUM), and again when a
// substitute is used, which SCAN allows. 0 starts and ends the traversal, as in Redis.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace shoal::proxy {

struct ScanCursor {
  uint32_t position = 0;
  uint32_t substitute = 0;  // 0: the position's own member; k + 1: member k
  uint64_t node_cursor = 0;

  static constexpr int kNodeCursorBits = 48;
  static constexpr uint32_t kMaxMembers = 254;  // positions and substitutes fit in 8 bits

  uint64_t Encode() const {
    return (uint64_t{position} << 56) | (uint64_t{substitute} << 48) |
           (node_cursor & ((uint64_t{1} << kNodeCursorBits) - 1));
  }
  static ScanCursor Decode(uint64_t cursor) {
    return ScanCursor{static_cast<uint32_t>(cursor >> 56),
                      static_cast<uint32_t>((cursor >> 48) & 0xFF),
                      cursor & ((uint64_t{1} << kNodeCursorBits) - 1)};
  }
};

struct ScanArgs {
  uint64_t cursor = 0;
  int64_t count = 10;
  std::string_view pattern;  // empty: every key ("*" is turned into empty)
  std::string_view type;     // empty: every type
  bool no_values = false;    // HSCAN NOVALUES (Redis 7.4): field names only
};

// What is scanned: the keyspace (SCAN: TYPE), a hash (HSCAN: NOVALUES) or a set (SSCAN).
enum class ScanTarget : unsigned char { kKeyspace, kHash, kSet };

// Parses SCAN's arguments after the command name (args[0] is the cursor), with Redis 7's errors:
// "ERR invalid cursor", "ERR value is not an integer or out of range", "ERR syntax error", and
// Redis 7.4's "ERR NOVALUES option can only be used in HSCAN". Returns "" on success.
std::string ParseScanArgs(std::span<const std::string_view> args, ScanArgs* out,
                          ScanTarget target = ScanTarget::kKeyspace);

}  // namespace shoal::proxy
