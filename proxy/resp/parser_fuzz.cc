// libFuzzer target for RespParser (scripts/fuzz.sh builds and runs it: `make fuzz`).
//
// Each input is parsed three ways, as a connection would see it: whole, in two reads split at a
// point derived from the input, and in small reads. Every call checks the contract (consumed
// within the buffer, args non-empty on kOk and inside the consumed bytes or parser-owned
// storage, sticky errors), and the three runs must yield the same commands and error.
//
// fuzz-sources: proxy/resp/parser.cc
// fuzz-dict: "\x0d\x0a"
// fuzz-dict: "*1\x0d\x0a"
// fuzz-dict: "*2\x0d\x0a"
// fuzz-dict: "*0\x0d\x0a"
// fuzz-dict: "*-1\x0d\x0a"
// fuzz-dict: "$0\x0d\x0a"
// fuzz-dict: "$3\x0d\x0a"
// fuzz-dict: "$-1\x0d\x0a"
// fuzz-dict: "\\x41"
// fuzz-dict: "\\\""
// fuzz-dict: "\\'"
// fuzz-dict: "\""
// fuzz-dict: "'"
// fuzz-dict: "\x00"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/resp/parser.h"

namespace {

using shoal::proxy::RespLimits;
using shoal::proxy::RespParser;
using Result = RespParser::Result;

[[noreturn]] void Die(const char* what) {
  fprintf(stderr, "parser_fuzz: invariant violated: %s\n", what);
  abort();
}

#define CHECK(cond) \
  if (!(cond)) Die(#cond)

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  Result last = Result::kNeedMore;
  std::string error;
};

bool IsLineLimitError(const std::string& error) {
  return error.rfind("Protocol error: too big ", 0) == 0;
}

// Feeds data[0, size) in reads ending at each of `cuts` (increasing, last == size). The
// unconsumed bytes move to a new allocation before every call.
Outcome Feed(const uint8_t* data, size_t size, const std::vector<size_t>& cuts,
             const RespLimits& limits) {
  RespParser parser(limits);
  Outcome outcome;
  std::unique_ptr<char[]> buffer;
  size_t start = 0;  // input offset of buffer[0]
  size_t buffered = 0;
  for (size_t cut : cuts) {
    auto fresh = std::make_unique<char[]>(cut - start + 1);
    memcpy(fresh.get(), data + start, cut - start);
    buffer = std::move(fresh);  // frees the old allocation: stale pointers would trip ASan
    buffered = cut - start;
    for (;;) {
      size_t consumed = SIZE_MAX;
      const Result result = parser.Parse(buffer.get(), buffered, &consumed);
      CHECK(consumed <= buffered);
      if (result == Result::kError) {
        CHECK(consumed == 0);
        CHECK(parser.error().rfind("Protocol error: ", 0) == 0);
        CHECK(parser.args().empty());
        size_t again = SIZE_MAX;
        CHECK(parser.Parse(buffer.get(), buffered, &again) == Result::kError);
        CHECK(again == 0);
        outcome.last = Result::kError;
        outcome.error = parser.error();
        return outcome;
      }
      if (result == Result::kNeedMore) {
        CHECK(parser.args().empty());
        CHECK(consumed == 0 || consumed == buffered);
        start += consumed;
        break;
      }
      CHECK(consumed > 0);
      CHECK(!parser.args().empty());
      const std::string_view command(buffer.get(), consumed);
      const bool has_quote = command.find_first_of("\"'") != std::string_view::npos;
      std::vector<std::string> args;
      for (std::string_view arg : parser.args()) {
        const bool inside =
            arg.data() >= buffer.get() && arg.data() + arg.size() <= buffer.get() + consumed;
        // Outside the consumed bytes only unescaped inline words may live (owned storage).
        CHECK(inside || has_quote);
        args.emplace_back(arg);  // reads every byte: ASan vouches for owned storage
      }
      outcome.commands.push_back(std::move(args));
      start += consumed;
      memmove(buffer.get(), buffer.get() + consumed, buffered - consumed);
      buffered -= consumed;
    }
  }
  return outcome;
}

void ExpectSame(const Outcome& whole, const Outcome& other) {
  if (other.last == Result::kError && IsLineLimitError(other.error)) {
    // A line still unfinished in a short read may pass the line limit although the whole input
    // completes it (Redis behaves the same way): the commands before it must agree.
    CHECK(other.commands.size() <= whole.commands.size());
    for (size_t i = 0; i < other.commands.size(); ++i) {
      CHECK(other.commands[i] == whole.commands[i]);
    }
    return;
  }
  CHECK(other.commands == whole.commands);
  CHECK(other.last == whole.last);
  CHECK(other.error == whole.error);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a
  for (size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 1099511628211ull;

  RespLimits limits;
  if (hash & 1) {  // small limits, so that the limit paths are reached
    limits.max_inline_bytes = 4 + (hash >> 8) % 64;
    limits.max_args = 1 + (hash >> 16) % 8;
    limits.max_bulk_bytes = (hash >> 24) % 64;
  }

  const Outcome whole = Feed(data, size, {size}, limits);
  if (size < 2) return 0;

  const size_t split = 1 + (hash >> 32) % (size - 1);
  ExpectSame(whole, Feed(data, size, {split, size}, limits));

  std::vector<size_t> cuts;
  const size_t chunk = std::max<size_t>(1 + (hash >> 40) % 16, size / 64);
  for (size_t cut = chunk; cut < size; cut += chunk) cuts.push_back(cut);
  cuts.push_back(size);
  ExpectSame(whole, Feed(data, size, cuts, limits));
  return 0;
}
