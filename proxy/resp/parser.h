#pragma once

// Incremental RESP2 request parser (the client side of the Redis protocol), after Dragonfly's
// src/facade/redis_parser.h: no exceptions, a result enum plus bytes consumed.
//
// Accepts both request forms Redis accepts, with Redis 7's rules and error texts:
//   multibulk: *<n>\r\n then n times $<len>\r\n<bytes>\r\n. *0 and any negative count (*-1) are
//              empty commands: consumed and skipped.
//   inline:    words separated by whitespace, ending in \n (or \r\n); quotes as in redis-cli /
//              sdssplitargs(): "..." with \n \r \t \b \a \\ \" \xHH escapes, '...' with \'; a
//              closing quote must be followed by whitespace or the end of the line. A line
//              with no words is skipped.
// A command starting with '*' is multibulk, anything else inline.
//
// Line limits (Redis's PROTO_INLINE_MAX_SIZE, here RespLimits::max_inline_bytes): when more than
// that many bytes are buffered from the start of a line whose terminator has not arrived, the
// request fails with "too big inline request" (inline command), "too big mbulk count string"
// (*<n>) or "too big bulk count string" ($<len>). As in Redis, a line that arrives complete is
// not limited, and a NUL byte before a line's terminator hides the terminator for good (Redis
// finds line ends with strchr), so only the size limit can end such a request. NUL is ordinary
// data inside bulk payloads.
//
// Request limit (Redis's client-query-buffer-limit, here RespLimits::max_request_bytes): a
// multibulk command whose declared size (every $<len> payload and header so far) would exceed it
// fails with "too big request" as soon as the $<len> line that crosses it is read, before its
// payload is buffered. So a connection never buffers more than the limit for one command (plus
// one read), however many large arguments the command declares.
//
// Where this parser is stricter than Redis 7 (which ignores the two bytes it skips):
//   - a bulk payload must be followed by \r\n: "Protocol error: expected CRLF after bulk data";
//   - the \r ending a *<n> or $<len> line must be followed by \n, else the line is invalid
//     ("invalid multibulk length" / "invalid bulk length").
//
// Zero-copy: on kOk, args() are views into the caller's buffer (except inline arguments that
// contained quotes, which are unescaped into parser-owned storage). The views stay valid until
// the next Parse() or Reset() call or until the caller moves or frees those bytes.
//
// Incremental: Parse() is called with the connection's unconsumed bytes. After kOk the caller
// drops *consumed bytes; after kNeedMore it calls again with the same bytes plus new ones (it
// may drop the *consumed leading bytes first, or not). The parser keeps its progress as offsets,
// so the caller may move its buffer between calls (e.g. on growth), and bytes scanned once are
// not scanned again: a large bulk arriving in many reads costs O(1) per read until complete.
//
//   data: | skipped empty lines | *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva......
//         0                     ^command_start_             ^scanned_ (next unparsed byte)
//
// One parser per client connection; not thread-safe. Per command it allocates nothing once its
// vectors have grown to the connection's usual command size.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::proxy {

struct RespLimits {
  size_t max_bulk_bytes = 512u << 20;   // Redis proto-max-bulk-len: larger $<len> is invalid
  size_t max_args = 1024 * 1024;        // larger *<n> is invalid; multibulk only (Redis 7: INT_MAX)
  size_t max_inline_bytes = 64u << 10;  // Redis PROTO_INLINE_MAX_SIZE (see "Line limits")
  size_t max_request_bytes = 1u << 30;  // Redis client-query-buffer-limit (see "Request limit")
};

class RespParser {
 public:
  enum class Result : unsigned char {
    kOk,        // one command parsed: args(), consumed
    kNeedMore,  // feed more bytes (call again with the same start plus the new bytes)
    kError,     // protocol error: error() holds Redis's wording; close the connection after
                // replying "-ERR <error()>". Sticky: later calls return kError until Reset().
  };

  explicit RespParser(const RespLimits& limits = RespLimits()) : limits_(limits) {}

  // Parses at most one command from data[0, size). On kOk sets *consumed to the bytes the
  // command (and any skipped empty commands before it) took and resets for the next command.
  // On kNeedMore sets *consumed to the number of leading bytes that can already be discarded:
  // either 0, or size when all of data was empty inline lines or empty multibulk commands.
  // On kError, *consumed is 0. size must not shrink between calls for the same command.
  Result Parse(const char* data, size_t size, size_t* consumed);

  // The command's arguments; args()[0] is the command name as sent (any case). Never empty on
  // kOk; empty after kNeedMore and kError.
  const std::vector<std::string_view>& args() const { return args_; }

  // E.g. "Protocol error: invalid multibulk length", "Protocol error: expected '$', got 'x'",
  // "Protocol error: invalid bulk length", "Protocol error: too big inline request",
  // "Protocol error: unbalanced quotes in request" (Redis's own wording), and
  // "Protocol error: too big request (client-query-buffer-limit is <n> bytes)".
  const std::string& error() const { return error_; }

  // After kError: the error is "too big request" (the connection counts those apart).
  bool request_too_big() const { return request_too_big_; }

  // Forget any partial command and any error (used when a connection is reset).
  void Reset();

 private:
  enum class State : unsigned char {
    kIdle,
    kInline,
    kArrayHeader,
    kBulkHeader,
    kBulkData,
    kFailed
  };
  enum class Step : unsigned char { kCommand, kEmpty, kNeedMore, kError };
  struct ArgSpan {
    size_t offset;  // into the caller's data, or into unescaped_ when owned
    size_t length;
    bool owned;
  };

  void StartCommand(State state);
  Step ParseMultibulk(const char* data, size_t size);
  Step ParseInline(const char* data, size_t size);
  bool SplitInline(const char* data, size_t begin, size_t end);  // false: unbalanced quotes
  size_t FindLineEnd(const char* data, size_t size, char terminator);
  Step Fail(std::string_view message);

  // All offsets are relative to the `data` of the current Parse() call.
  RespLimits limits_;
  State state_ = State::kIdle;
  bool line_blocked_ = false;       // a NUL precedes the current line's terminator
  size_t command_start_ = 0;        // first byte of the current command (after skipped ones)
  size_t scanned_ = 0;              // first byte of the current command not parsed yet
  size_t line_scanned_ = 0;         // current line searched up to here without its terminator
  size_t expected_args_ = 0;        // multibulk: n of *<n>
  size_t bulk_len_ = 0;             // multibulk: len of the current $<len>
  std::vector<ArgSpan> arg_spans_;  // parsed arguments of the current command
  std::vector<std::string_view> args_;
  std::string unescaped_;  // owned bytes of quoted inline arguments
  std::string error_;
  bool request_too_big_ = false;
};

}  // namespace shoal::proxy
