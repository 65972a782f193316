#pragma once

// LCS: the longest common subsequence of two strings and Redis 7's three replies for it (plain,
// LEN, IDX with MINMATCHLEN / WITHMATCHLEN), byte for byte as Redis's lcsCommand (t_string.c)
// forms them, so the ranges come out in the same order (from the strings' ends). Pure.

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/resp/reply.h"

namespace shoal::proxy {

struct LcsOptions {
  bool len = false;
  bool idx = false;
  bool with_match_len = false;
  int64_t min_match_len = 0;
};

// The most cells (len(a) + 1) x (len(b) + 1) of the table LCS may take (4 bytes each).
inline constexpr uint64_t kMaxLcsCells = uint64_t{16} << 20;

// Appends the reply in `protocol` (IDX's map is a flat array of key/value pairs for a RESP2 client,
// as Redis sends it). Returns false, appending nothing, when the table would pass kMaxLcsCells.
bool AppendLcsReply(std::string& out, resp::Protocol protocol, std::string_view a,
                    std::string_view b, const LcsOptions& options);

}  // namespace shoal::proxy
