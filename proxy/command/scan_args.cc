#include "proxy/command/scan_args.h"

#include <charconv>

#include "proxy/command/args.h"

namespace shoal::proxy {

std::string ParseScanArgs(std::span<const std::string_view> args, ScanArgs* out,
                          ScanTarget target) {
  *out = ScanArgs{};
  // Redis 7.0: strtoul over the whole argument, no leading space; a sign is allowed ("-1" wraps
  // to 2^64 - 1) and the empty string is 0.
  std::string_view c = args[0];
  bool negative = false;
  if (!c.empty() && (c[0] == '+' || c[0] == '-')) {
    negative = c[0] == '-';
    c.remove_prefix(1);
    if (c.empty()) return "ERR invalid cursor";
  }
  if (!c.empty()) {
    auto [ptr, ec] = std::from_chars(c.data(), c.data() + c.size(), out->cursor);
    if (ec != std::errc() || ptr != c.data() + c.size()) return "ERR invalid cursor";
  }
  if (negative) out->cursor = 0 - out->cursor;
  for (size_t i = 1; i < args.size(); i += 2) {
    const bool has_value = i + 1 < args.size();
    if (EqualsIgnoreCase(args[i], "novalues")) {
      if (target != ScanTarget::kHash) return "ERR NOVALUES option can only be used in HSCAN";
      out->no_values = true;
      --i;  // no value follows
    } else if (EqualsIgnoreCase(args[i], "count") && has_value) {
      if (!ParseInt64(args[i + 1], &out->count)) return std::string(kErrNotInteger);
      if (out->count < 1) return std::string(kErrSyntax);
    } else if (EqualsIgnoreCase(args[i], "match") && has_value) {
      out->pattern = args[i + 1] == "*" ? std::string_view() : args[i + 1];
    } else if (EqualsIgnoreCase(args[i], "type") && has_value && target == ScanTarget::kKeyspace) {
      out->type = args[i + 1];
    } else {
      return std::string(kErrSyntax);
    }
  }
  return "";
}

}  // namespace shoal::proxy
