#pragma once

// Argument parsing for the key commands, with Redis 7's rules and error wording. Each parser
// returns an empty string on success or the error line (without '-') to reply with.
// Expiry is resolved to absolute unix milliseconds with the caller's `now_ms`.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace shoal::proxy {

inline constexpr std::string_view kErrSyntax = "ERR syntax error";
inline constexpr std::string_view kErrNotInteger = "ERR value is not an integer or out of range";
// A count Redis reads with getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX): INT64_MIN
// (HRANDFIELD, SRANDMEMBER, SPOP).
inline constexpr std::string_view kErrCountRange =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

// Redis's string2ll: optional '-', digits, no spaces or '+', no leading zeros, fits int64.
bool ParseInt64(std::string_view text, int64_t* out);

// "ERR invalid expire time in '<cmd>' command".
std::string InvalidExpireError(std::string_view command);

enum class SetCondition : unsigned char { kNone, kIfAbsent, kIfPresent };

struct SetOptions {
  SetCondition condition = SetCondition::kNone;
  bool get = false;  // reply with the previous value
  bool keep_ttl = false;
  int64_t expire_at_ms = 0;  // absolute; 0 = no expiry
};

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms|KEEPTTL]: `options` are the arguments
// after the value. As in Redis 7, a repeated option is allowed (the last expiry wins) and the
// expiry value is checked only after every option has been read (a syntax error comes first).
std::string ParseSetOptions(std::span<const std::string_view> options, int64_t now_ms,
                            SetOptions* out);

// A relative or absolute expiry given as text, in seconds or milliseconds, as SET EX/PX/EXAT/PXAT,
// SETEX, PSETEX and GETEX take it (must be > 0). Fills *expire_at_ms.
std::string ParsePositiveExpiry(std::string_view text, bool milliseconds, bool absolute,
                                int64_t now_ms, std::string_view command, int64_t* expire_at_ms);

struct GetExOptions {
  bool touch = false;        // any option given: the expiry changes
  int64_t expire_at_ms = 0;  // 0 with touch = PERSIST
};
// GETEX key [EX s|PX ms|EXAT ts|PXAT ms|PERSIST]: `options` are the arguments after the key.
// Same repetition and ordering rules as ParseSetOptions.
std::string ParseGetExOptions(std::span<const std::string_view> options, int64_t now_ms,
                              GetExOptions* out);

// As Redis applies them to the current expiry: NX none yet; XX one exists; GT the new one is later
// (a key without expiry never passes); LT the new one is earlier (a key without expiry always
// passes). XX with GT is just GT; XX with LT is kXxLt (an expiry exists and the new one is
// earlier).
enum class ExpireCondition : unsigned char { kNone, kNx, kXx, kGt, kLt, kXxLt };

struct ExpireArgs {
  int64_t expire_at_ms = 0;  // absolute; <= now means "delete the key"
  ExpireCondition condition = ExpireCondition::kNone;
};
// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT]: `args` are the arguments after the
// key. Unlike SET, zero and negative times are allowed (they delete the key).
std::string ParseExpireArgs(std::span<const std::string_view> args, bool milliseconds,
                            bool absolute, int64_t now_ms, std::string_view command,
                            ExpireArgs* out);

// Case-insensitive ASCII equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace shoal::proxy
