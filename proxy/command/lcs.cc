#include "proxy/command/lcs.h"

#include <vector>

#include "proxy/resp/reply.h"

namespace shoal::proxy {

bool AppendLcsReply(std::string& out, resp::Protocol protocol, std::string_view a,
                    std::string_view b, const LcsOptions& options) {
  const uint32_t alen = static_cast<uint32_t>(a.size());
  const uint32_t blen = static_cast<uint32_t>(b.size());
  if ((uint64_t{alen} + 1) * (uint64_t{blen} + 1) > kMaxLcsCells) return false;
  std::vector<uint32_t> table((size_t{alen} + 1) * (blen + 1), 0);
  auto at = [&](uint32_t i, uint32_t j) -> uint32_t& { return table[j + size_t{i} * (blen + 1)]; };
  for (uint32_t i = 1; i <= alen; ++i) {
    for (uint32_t j = 1; j <= blen; ++j) {
      if (a[i - 1] == b[j - 1]) {
        at(i, j) = at(i - 1, j - 1) + 1;
      } else {
        at(i, j) = std::max(at(i - 1, j), at(i, j - 1));
      }
    }
  }
  uint32_t idx = at(alen, blen);
  const bool compute = options.idx || !options.len;
  std::string result(compute ? idx : 0, '\0');
  std::string ranges;  // the IDX matches, each an array
  int64_t ranges_count = 0;
  uint32_t arange_start = alen;  // alen: no range open
  uint32_t arange_end = 0, brange_start = 0, brange_end = 0;
  uint32_t i = alen, j = blen;
  while (compute && i > 0 && j > 0) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      result[idx - 1] = a[i - 1];
      if (arange_start == alen) {
        arange_start = arange_end = i - 1;
        brange_start = brange_end = j - 1;
      } else if (arange_start == i && brange_start == j) {
        --arange_start;  // contiguous: extend the range backward
        --brange_start;
      } else {
        emit = true;
      }
      if (arange_start == 0 || brange_start == 0) emit = true;
      --idx;
      --i;
      --j;
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      if (arange_start != alen) emit = true;
    }
    const uint32_t match_len = arange_end - arange_start + 1;
    if (emit) {
      if (options.min_match_len == 0 || match_len >= options.min_match_len) {
        if (options.idx) {
          resp::AppendArray(ranges, 2 + (options.with_match_len ? 1 : 0));
          resp::AppendArray(ranges, 2);
          resp::AppendInteger(ranges, arange_start);
          resp::AppendInteger(ranges, arange_end);
          resp::AppendArray(ranges, 2);
          resp::AppendInteger(ranges, brange_start);
          resp::AppendInteger(ranges, brange_end);
          if (options.with_match_len) resp::AppendInteger(ranges, match_len);
          ++ranges_count;
        }
      }
      arange_start = alen;
    }
  }
  if (options.idx) {
    resp::Writer(out, protocol).Map(2);
    resp::AppendBulk(out, "matches");
    resp::AppendArray(out, ranges_count);
    out += ranges;
    resp::AppendBulk(out, "len");
    resp::AppendInteger(out, at(alen, blen));
  } else if (options.len) {
    resp::AppendInteger(out, idx);
  } else {
    resp::AppendBulk(out, result);
  }
  return true;
}

}  // namespace shoal::proxy
