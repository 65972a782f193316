#include "proxy/resp/parser.h"

#include <cassert>
#include <cstring>
#include <string>

namespace shoal::proxy {
namespace {

constexpr size_t kNotFound = static_cast<size_t>(-1);

// Capacities above these are released when the next command starts, so one huge command does
// not pin memory for the rest of the connection's life.
constexpr size_t kKeptArgCapacity = 4096;
constexpr size_t kKeptUnescapedCapacity = 64u << 10;

// Redis's string2ll() rules: optional '-', no '+', no spaces, no leading zeros ("0" itself is
// fine, "-0" is not), fewer than 21 characters, within int64.
bool ParseInt64(const char* p, size_t len, int64_t* out) {
  if (len == 0 || len >= 21) return false;
  if (len == 1 && p[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = p[0] == '-';
  if (negative && ++i == len) return false;
  if (p[i] < '1' || p[i] > '9') return false;
  uint64_t v = 0;
  for (; i < len; ++i) {
    const unsigned digit = static_cast<unsigned char>(p[i]) - unsigned{'0'};
    if (digit > 9) return false;
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (negative) {
    if (v > uint64_t{INT64_MAX} + 1) return false;
    *out = static_cast<int64_t>(0 - v);  // modular: 2^63 becomes INT64_MIN
  } else {
    if (v > uint64_t{INT64_MAX}) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// isspace() in the C locale.
inline bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Ends an unquoted inline word (sdssplitargs; \v and \f do not, though they separate words).
inline bool IsWordEnd(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline char Unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;
  }
}

template <typename T>
void ClearKeepingSmallCapacity(T& container, size_t kept_capacity) {
  if (container.capacity() > kept_capacity) {
    T().swap(container);
  } else {
    container.clear();
  }
}

}  // namespace

void RespParser::Reset() {
  state_ = State::kIdle;
  line_blocked_ = false;
  command_start_ = scanned_ = line_scanned_ = 0;
  expected_args_ = bulk_len_ = 0;
  ClearKeepingSmallCapacity(arg_spans_, kKeptArgCapacity);
  ClearKeepingSmallCapacity(args_, kKeptArgCapacity);
  ClearKeepingSmallCapacity(unescaped_, kKeptUnescapedCapacity);
  error_.clear();
  request_too_big_ = false;
}

RespParser::Result RespParser::Parse(const char* data, size_t size, size_t* consumed) {
  *consumed = 0;
  ClearKeepingSmallCapacity(args_, kKeptArgCapacity);
  assert(command_start_ <= size && scanned_ <= size && line_scanned_ <= size);
  for (;;) {
    Step step;
    switch (state_) {
      case State::kFailed:
        return Result::kError;
      case State::kIdle:
        if (command_start_ == size) {  // everything so far was empty commands: drop it
          *consumed = size;
          command_start_ = scanned_ = line_scanned_ = 0;
          return Result::kNeedMore;
        }
        StartCommand(data[command_start_] == '*' ? State::kArrayHeader : State::kInline);
        continue;
      case State::kInline:
        step = ParseInline(data, size);
        break;
      default:
        step = ParseMultibulk(data, size);
        break;
    }
    switch (step) {
      case Step::kCommand:
        for (const ArgSpan& arg : arg_spans_) {
          args_.emplace_back((arg.owned ? unescaped_.data() : data) + arg.offset, arg.length);
        }
        *consumed = scanned_;
        state_ = State::kIdle;
        command_start_ = scanned_ = line_scanned_ = 0;
        return Result::kOk;
      case Step::kEmpty:
        state_ = State::kIdle;
        command_start_ = scanned_;
        continue;
      case Step::kNeedMore:
        // A partial command keeps its offsets, so nothing may be dropped before it: skipped
        // empty commands in front of it are reported with the command.
        return Result::kNeedMore;
      case Step::kError:
        return Result::kError;
    }
  }
}

void RespParser::StartCommand(State state) {
  state_ = state;
  scanned_ = line_scanned_ = command_start_;
  line_blocked_ = false;
  ClearKeepingSmallCapacity(arg_spans_, kKeptArgCapacity);
  ClearKeepingSmallCapacity(unescaped_, kKeptUnescapedCapacity);
}

RespParser::Step RespParser::Fail(std::string_view message) {
  state_ = State::kFailed;
  error_.assign(message);
  return Step::kError;
}

// Finds the current line's terminator at or after line_scanned_, like Redis's strchr() on its
// NUL-terminated query buffer: a NUL before the terminator hides it for good.
size_t RespParser::FindLineEnd(const char* data, size_t size, char terminator) {
  if (line_blocked_ || line_scanned_ == size) return kNotFound;
  const char* from = data + line_scanned_;
  const size_t available = size - line_scanned_;
  const void* hit = memchr(from, terminator, available);
  const size_t distance =
      hit ? static_cast<size_t>(static_cast<const char*>(hit) - from) : available;
  if (distance > 0 && memchr(from, '\0', distance) != nullptr) {
    line_blocked_ = true;
    return kNotFound;
  }
  line_scanned_ += distance;  // on a hit: the terminator, so a retry finds it at once
  return hit ? line_scanned_ : kNotFound;
}

RespParser::Step RespParser::ParseMultibulk(const char* data, size_t size) {
  if (state_ == State::kArrayHeader) {
    const size_t cr = FindLineEnd(data, size, '\r');
    if (cr == kNotFound) {
      if (size - command_start_ > limits_.max_inline_bytes) {
        return Fail("Protocol error: too big mbulk count string");
      }
      return Step::kNeedMore;
    }
    if (cr + 1 == size) return Step::kNeedMore;
    int64_t count;
    if (data[cr + 1] != '\n' ||
        !ParseInt64(data + command_start_ + 1, cr - command_start_ - 1, &count) ||
        (count > 0 && static_cast<uint64_t>(count) > limits_.max_args)) {
      return Fail("Protocol error: invalid multibulk length");
    }
    scanned_ = line_scanned_ = cr + 2;
    if (count <= 0) return Step::kEmpty;
    expected_args_ = static_cast<size_t>(count);
    state_ = State::kBulkHeader;
  }
  for (;;) {
    if (state_ == State::kBulkHeader) {
      if (arg_spans_.size() == expected_args_) return Step::kCommand;
      const size_t cr = FindLineEnd(data, size, '\r');
      if (cr == kNotFound) {
        if (size - scanned_ > limits_.max_inline_bytes) {
          return Fail("Protocol error: too big bulk count string");
        }
        return Step::kNeedMore;
      }
      if (cr + 1 == size) return Step::kNeedMore;
      const char first = data[scanned_];
      if (first != '$') {
        // Redis replaces CR and LF in error replies with spaces.
        const char shown = first == '\r' || first == '\n' ? ' ' : first;
        error_.assign("Protocol error: expected '$', got '");
        error_.push_back(shown);
        error_.push_back('\'');
        state_ = State::kFailed;
        return Step::kError;
      }
      int64_t len;
      if (data[cr + 1] != '\n' || !ParseInt64(data + scanned_ + 1, cr - scanned_ - 1, &len) ||
          len < 0 || static_cast<uint64_t>(len) > limits_.max_bulk_bytes) {
        return Fail("Protocol error: invalid bulk length");
      }
      bulk_len_ = static_cast<size_t>(len);
      scanned_ = cr + 2;
      // The whole command once this payload has arrived (max_bulk_bytes bounds len: no overflow).
      if (scanned_ - command_start_ + bulk_len_ + 2 > limits_.max_request_bytes) {
        request_too_big_ = true;
        return Fail("Protocol error: too big request (client-query-buffer-limit is " +
                    std::to_string(limits_.max_request_bytes) + " bytes)");
      }
      state_ = State::kBulkData;
    }
    // In a payload: decide from the byte count alone, without looking at the bytes.
    if (size - scanned_ < bulk_len_ + 2) return Step::kNeedMore;
    const char* end = data + scanned_ + bulk_len_;
    if (end[0] != '\r' || end[1] != '\n')
      return Fail("Protocol error: expected CRLF after bulk data");
    arg_spans_.push_back({scanned_, bulk_len_, false});
    scanned_ = line_scanned_ = scanned_ + bulk_len_ + 2;
    line_blocked_ = false;
    state_ = State::kBulkHeader;
  }
}

RespParser::Step RespParser::ParseInline(const char* data, size_t size) {
  const size_t newline = FindLineEnd(data, size, '\n');
  if (newline == kNotFound) {
    if (size - command_start_ > limits_.max_inline_bytes) {
      return Fail("Protocol error: too big inline request");
    }
    return Step::kNeedMore;
  }
  size_t end = newline;
  if (end > command_start_ && data[end - 1] == '\r') --end;
  if (!SplitInline(data, command_start_, end)) {
    return Fail("Protocol error: unbalanced quotes in request");
  }
  scanned_ = newline + 1;
  return arg_spans_.empty() ? Step::kEmpty : Step::kCommand;
}

// sdssplitargs() over data[begin, end), which holds no NUL (FindLineEnd guarantees it), so the
// end of the range plays the part of sdssplitargs's terminating NUL.
bool RespParser::SplitInline(const char* data, size_t begin, size_t end) {
  auto at = [data, end](size_t i) { return i < end ? data[i] : '\0'; };
  size_t p = begin;
  for (;;) {
    while (p < end && IsSpace(data[p])) ++p;
    if (p == end) return true;
    const size_t start = p;
    // Fast path: a word without quotes is a view into data.
    while (p < end && !IsWordEnd(data[p]) && data[p] != '"' && data[p] != '\'') ++p;
    if (p == end || IsWordEnd(data[p])) {
      arg_spans_.push_back({start, p - start, false});
      continue;
    }
    // A quote: the word is the plain prefix plus the quoted part, unescaped into unescaped_. It
    // ends with the closing quote, which must be followed by a blank or the end of the line.
    const size_t out = unescaped_.size();
    unescaped_.append(data + start, p - start);
    const char quote = data[p++];
    for (;;) {
      if (p == end) return false;  // unterminated
      const char c = data[p];
      if (c == quote) {
        if (p + 1 < end && !IsSpace(data[p + 1])) return false;
        ++p;
        break;
      }
      int high, low;
      if (quote == '\'') {
        if (c == '\\' && at(p + 1) == '\'') ++p;  // \' is the only escape in single quotes
        unescaped_.push_back(data[p++]);
      } else if (c != '\\') {
        unescaped_.push_back(data[p++]);
      } else if (at(p + 1) == 'x' && (high = HexValue(at(p + 2))) >= 0 &&
                 (low = HexValue(at(p + 3))) >= 0) {
        unescaped_.push_back(static_cast<char>(high * 16 + low));
        p += 4;
      } else if (p + 1 < end) {
        unescaped_.push_back(Unescape(data[p + 1]));
        p += 2;
      } else {
        return false;  // a backslash ending the line: the quote is never closed
      }
    }
    arg_spans_.push_back({out, unescaped_.size() - out, true});
  }
}

}  // namespace shoal::proxy
