#pragma once

// Incremental RESP2 request parser (the client side of the Redis protocol), after Dragonfly's
// src/facade/redis_parser.h: no exceptions, a result enum plus bytes consumed.
//
// Accepts both request forms Redis accepts:
//   multibulk: *<n>\r\n then n times $<len>\r\n<bytes>\r\n
//   inline:    words separated by spaces/tabs, ending in \n (or \r\n); quotes as in redis-cli
//              ("a b", 'c', \x41 escapes in double quotes). An empty inline line is skipped.
//
// Zero-copy: on kOk, args() are views into the caller's buffer (except inline arguments that
// contained quotes or escapes, which are unescaped into parser-owned storage). The views stay
// valid until the next Parse() call or until the caller moves or frees those bytes.
//
// Incremental: Parse() is called with the unconsumed bytes of the connection, starting at the
// same command start until it completes. The parser remembers how far it has scanned (as
// offsets, so the caller may move its buffer between calls, e.g. on growth), so a large bulk
// arriving in many reads is scanned once, not once per read.
//
// One parser per client connection; not thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::proxy {

struct RespLimits {
  size_t max_bulk_bytes = 512u << 20;    // Redis proto-max-bulk-len
  size_t max_args = 1024 * 1024;         // Redis: multibulk length limit
  size_t max_inline_bytes = 64u << 10;   // Redis PROTO_INLINE_MAX_SIZE
};

class RespParser {
 public:
  enum class Result : unsigned char {
    kOk,        // one command parsed: args(), consumed
    kNeedMore,  // feed more bytes (call again with the same start plus the new bytes)
    kError,     // protocol error: error() holds Redis's wording; close the connection after
                // replying "-ERR <error()>"
  };

  explicit RespParser(const RespLimits& limits = RespLimits()) : limits_(limits) {}

  // Parses at most one command from data[0, size). On kOk sets *consumed to the bytes the
  // command (or skipped empty inline lines before it) took and resets for the next command.
  // On kNeedMore sets *consumed to the number of leading bytes that can already be discarded
  // (only ever whole empty inline lines; usually 0). On kError, *consumed is 0.
  Result Parse(const char* data, size_t size, size_t* consumed);

  // The command's arguments; args()[0] is the command name as sent (any case). Never empty on kOk.
  const std::vector<std::string_view>& args() const { return args_; }

  // E.g. "Protocol error: invalid multibulk length", "Protocol error: expected '$', got 'x'",
  // "Protocol error: invalid bulk length", "Protocol error: too big inline request",
  // "Protocol error: unbalanced quotes in request" (Redis's own wording).
  const std::string& error() const { return error_; }

  // Forget any partial command (used when a connection is reset).
  void Reset();

 private:
  // Implementation state is private to parser.cc; offsets are relative to `data`.
  RespLimits limits_;
  std::vector<std::string_view> args_;
  std::vector<std::string> owned_;  // unescaped inline arguments
  std::string error_;
  // Resumable multibulk state.
  size_t scanned_ = 0;          // bytes of the current command already parsed
  int64_t expected_args_ = -1;  // -1: header not parsed yet
  int64_t bulk_len_ = -1;       // -1: next token is a $<len> header
  std::vector<std::pair<size_t, size_t>> arg_offsets_;  // (offset, length) of parsed args
};

}  // namespace shoal::proxy
