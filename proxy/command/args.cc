#include "proxy/command/args.h"

#include <strings.h>

#include <limits>

namespace shoal::proxy {

namespace {
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool ParseInt64(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  size_t i = 0;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    i = 1;
    if (text.size() == 1) return false;
  }
  if (text.size() == 1 && text[0] == '0') {
    *out = 0;
    return true;
  }
  if (text[i] < '1' || text[i] > '9') return false;
  uint64_t v = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(kMax) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(kMax)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

std::string InvalidExpireError(std::string_view command) {
  std::string s = "ERR invalid expire time in '";
  s.append(command);
  s += "' command";
  return s;
}

std::string ParsePositiveExpiry(std::string_view text, bool milliseconds, bool absolute,
                                int64_t now_ms, std::string_view command, int64_t* expire_at_ms) {
  int64_t v;
  if (!ParseInt64(text, &v)) return std::string(kErrNotInteger);
  if (v <= 0 || (!milliseconds && v > kMax / 1000)) return InvalidExpireError(command);
  if (!milliseconds) v *= 1000;
  if (!absolute) {
    if (v > kMax - now_ms) return InvalidExpireError(command);
    v += now_ms;
  }
  *expire_at_ms = v;
  return {};
}

namespace {

// SET/GETEX's expiry keywords. Like Redis's parseExtendedStringArgumentsOrReply, the parsers
// below refuse only a *different* expiry option (EX after PX, KEEPTTL after EX...): repeating the
// same one is allowed and the last value wins. The value is checked after every flag has been
// read, so a syntax error wins over a bad value, and an overridden value is never looked at.
enum class ExpiryKind : unsigned char { kNone, kEx, kPx, kExAt, kPxAt, kKeepTtl, kPersist };

ExpiryKind ExpiryKeyword(std::string_view opt) {
  if (EqualsIgnoreCase(opt, "ex")) return ExpiryKind::kEx;
  if (EqualsIgnoreCase(opt, "px")) return ExpiryKind::kPx;
  if (EqualsIgnoreCase(opt, "exat")) return ExpiryKind::kExAt;
  if (EqualsIgnoreCase(opt, "pxat")) return ExpiryKind::kPxAt;
  return ExpiryKind::kNone;
}

bool CanTake(ExpiryKind have, ExpiryKind next) { return have == ExpiryKind::kNone || have == next; }

// Resolves the last EX/PX/EXAT/PXAT value; no-op for the other kinds.
std::string ResolveExpiry(ExpiryKind kind, std::string_view value, int64_t now_ms,
                          std::string_view command, int64_t* expire_at_ms) {
  if (kind == ExpiryKind::kNone || kind == ExpiryKind::kKeepTtl || kind == ExpiryKind::kPersist) {
    return {};
  }
  const bool ms = kind == ExpiryKind::kPx || kind == ExpiryKind::kPxAt;
  const bool absolute = kind == ExpiryKind::kExAt || kind == ExpiryKind::kPxAt;
  return ParsePositiveExpiry(value, ms, absolute, now_ms, command, expire_at_ms);
}

}  // namespace

std::string ParseSetOptions(std::span<const std::string_view> options, int64_t now_ms,
                            SetOptions* out) {
  *out = SetOptions{};
  ExpiryKind expiry = ExpiryKind::kNone;
  std::string_view expiry_value;
  for (size_t i = 0; i < options.size(); ++i) {
    const std::string_view opt = options[i];
    const bool has_next = i + 1 < options.size();
    const ExpiryKind keyword = ExpiryKeyword(opt);
    if (EqualsIgnoreCase(opt, "nx") && out->condition != SetCondition::kIfPresent) {
      out->condition = SetCondition::kIfAbsent;
    } else if (EqualsIgnoreCase(opt, "xx") && out->condition != SetCondition::kIfAbsent) {
      out->condition = SetCondition::kIfPresent;
    } else if (EqualsIgnoreCase(opt, "get")) {
      out->get = true;
    } else if (EqualsIgnoreCase(opt, "keepttl") && CanTake(expiry, ExpiryKind::kKeepTtl)) {
      out->keep_ttl = true;
      expiry = ExpiryKind::kKeepTtl;
    } else if (keyword != ExpiryKind::kNone && CanTake(expiry, keyword) && has_next) {
      expiry = keyword;
      expiry_value = options[++i];
    } else {
      return std::string(kErrSyntax);
    }
  }
  return ResolveExpiry(expiry, expiry_value, now_ms, "set", &out->expire_at_ms);
}

std::string ParseGetExOptions(std::span<const std::string_view> options, int64_t now_ms,
                              GetExOptions* out) {
  *out = GetExOptions{};
  ExpiryKind expiry = ExpiryKind::kNone;
  std::string_view expiry_value;
  for (size_t i = 0; i < options.size(); ++i) {
    const std::string_view opt = options[i];
    const bool has_next = i + 1 < options.size();
    const ExpiryKind keyword = ExpiryKeyword(opt);
    if (EqualsIgnoreCase(opt, "persist") && CanTake(expiry, ExpiryKind::kPersist)) {
      expiry = ExpiryKind::kPersist;
    } else if (keyword != ExpiryKind::kNone && CanTake(expiry, keyword) && has_next) {
      expiry = keyword;
      expiry_value = options[++i];
    } else {
      return std::string(kErrSyntax);
    }
  }
  std::string err = ResolveExpiry(expiry, expiry_value, now_ms, "getex", &out->expire_at_ms);
  if (!err.empty()) return err;
  out->touch = expiry != ExpiryKind::kNone;  // PERSIST leaves expire_at_ms at 0
  return {};
}

std::string ParseExpireArgs(std::span<const std::string_view> args, bool milliseconds,
                            bool absolute, int64_t now_ms, std::string_view command,
                            ExpireArgs* out) {
  *out = ExpireArgs{};
  if (args.empty()) return std::string(kErrSyntax);
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view opt = args[i];
    if (EqualsIgnoreCase(opt, "nx")) nx = true;
    else if (EqualsIgnoreCase(opt, "xx")) xx = true;
    else if (EqualsIgnoreCase(opt, "gt")) gt = true;
    else if (EqualsIgnoreCase(opt, "lt")) lt = true;
    else return "ERR Unsupported option " + std::string(opt);
  }
  if (nx && (xx || gt || lt)) {
    return "ERR NX and XX, GT or LT options at the same time are not compatible";
  }
  if (gt && lt) return "ERR GT and LT options at the same time are not compatible";
  // XX with GT is GT (a key without expiry never passes GT); XX with LT is its own condition.
  out->condition = nx         ? ExpireCondition::kNx
                   : gt       ? ExpireCondition::kGt
                   : lt && xx ? ExpireCondition::kXxLt
                   : lt       ? ExpireCondition::kLt
                   : xx       ? ExpireCondition::kXx
                              : ExpireCondition::kNone;
  int64_t v;
  if (!ParseInt64(args[0], &v)) return std::string(kErrNotInteger);
  if (!milliseconds) {
    if (v > kMax / 1000 || v < std::numeric_limits<int64_t>::min() / 1000) {
      return InvalidExpireError(command);
    }
    v *= 1000;
  }
  if (!absolute) {
    // Adding a positive now can only overflow upwards (Redis checks just that bound).
    if ((now_ms > 0 && v > kMax - now_ms) ||
        (now_ms < 0 && v < std::numeric_limits<int64_t>::min() - now_ms)) {
      return InvalidExpireError(command);
    }
    v += now_ms;
  }
  out->expire_at_ms = v;
  return {};
}

}  // namespace shoal::proxy
