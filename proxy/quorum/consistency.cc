#include "proxy/quorum/consistency.h"

#include <string.h>
#include <strings.h>

namespace shoal::proxy {

int RequiredReplicas(Consistency level, int n) {
  if (n < 1) return 1;
  switch (level) {
    case Consistency::kOne: return 1;
    case Consistency::kQuorum: return n / 2 + 1;
    case Consistency::kAll: return n;
  }
  return n;
}

std::optional<Consistency> ParseConsistency(std::string_view text) {
  auto eq = [&](const char* s) {
    return text.size() == strlen(s) && strncasecmp(text.data(), s, text.size()) == 0;
  };
  if (eq("one")) return Consistency::kOne;
  if (eq("quorum")) return Consistency::kQuorum;
  if (eq("all")) return Consistency::kAll;
  return std::nullopt;
}

std::string_view ConsistencyName(Consistency level) {
  switch (level) {
    case Consistency::kOne: return "ONE";
    case Consistency::kQuorum: return "QUORUM";
    case Consistency::kAll: return "ALL";
  }
  return "?";
}

}  // namespace shoal::proxy
