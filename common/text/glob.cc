#include "common/text/glob.h"

#include <utility>

namespace shoal {

namespace {

// Matches one pattern element at p (not '*') against byte c; sets *next to the element's end.
// Returns false when the element does not match c.
bool MatchOne(std::string_view pattern, size_t p, unsigned char c, size_t* next) {
  const char pc = pattern[p];
  if (pc == '?') {
    *next = p + 1;
    return true;
  }
  if (pc == '\\' && p + 1 < pattern.size()) {
    *next = p + 2;
    return static_cast<unsigned char>(pattern[p + 1]) == c;
  }
  if (pc != '[') {
    *next = p + 1;
    return static_cast<unsigned char>(pc) == c;
  }
  // A set: [^...] negates; a-b ranges (either order); \x escapes; runs to ']' or the end.
  size_t i = p + 1;
  bool negate = false;
  if (i < pattern.size() && pattern[i] == '^') {
    negate = true;
    ++i;
  }
  bool match = false;
  while (i < pattern.size() && pattern[i] != ']') {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      if (static_cast<unsigned char>(pattern[i + 1]) == c) match = true;
      i += 2;
    } else if (i + 2 < pattern.size() && pattern[i + 1] == '-') {
      unsigned char lo = static_cast<unsigned char>(pattern[i]);
      unsigned char hi = static_cast<unsigned char>(pattern[i + 2]);
      if (lo > hi) std::swap(lo, hi);
      if (c >= lo && c <= hi) match = true;
      i += 3;
    } else {
      if (static_cast<unsigned char>(pattern[i]) == c) match = true;
      ++i;
    }
  }
  *next = i < pattern.size() ? i + 1 : i;  // past ']' (an unterminated set ends the pattern)
  return negate ? !match : match;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      while (p < pattern.size() && pattern[p] == '*') ++p;
      if (p == pattern.size()) return true;
      star_p = p;
      star_t = t;
      continue;
    }
    size_t next = 0;
    if (p < pattern.size() && MatchOne(pattern, p, static_cast<unsigned char>(text[t]), &next)) {
      p = next;
      ++t;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    // Backtrack: the last star takes one more byte.
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace shoal
