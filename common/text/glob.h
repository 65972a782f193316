#pragma once

// Redis's glob-style pattern matching (KEYS, SCAN MATCH): `*` any run of bytes, `?` one byte,
// `[abc]`, `[^abc]` and `[a-z]` one byte of (or not of) a set, `\x` the byte x. Byte-wise, case-
// sensitive, the same answers as Redis's stringmatchlen (util.c) for well-formed patterns; an
// unterminated `[` matches as Redis does (the set runs to the end of the pattern).
//
// Recursion on `*` is bounded by the pattern's stars, and a run of stars counts once; the cost is
// O(pattern x string) in the worst case (Redis's nested-star blowup is avoided by the classic
// last-star backtracking).

#include <string_view>

namespace shoal {

bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace shoal
