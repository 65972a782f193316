#pragma once

// Consistency levels and how many replicas each needs.

#include <optional>
#include <string_view>

namespace shoal::proxy {

enum class Consistency : unsigned char { kOne, kQuorum, kAll };

// ONE: 1; QUORUM: floor(n/2)+1; ALL: n. Never more than n, never less than 1 (n >= 1).
int RequiredReplicas(Consistency level, int n);

// "one" / "quorum" / "all", any case.
std::optional<Consistency> ParseConsistency(std::string_view text);
// "ONE" / "QUORUM" / "ALL".
std::string_view ConsistencyName(Consistency level);

}  // namespace shoal::proxy
