#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shoal {

// The items of a separated list such as a flag's "a=h:1, b=h:2": each trimmed of spaces, empty
// items dropped ("a,,b" and "a, b," give {"a", "b"}). Pure; no allocation beyond the result.
inline std::vector<std::string> SplitList(std::string_view text, char sep = ',') {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    if (end == text.size()) break;
    start = end + 1;
  }
  return items;
}

}  // namespace shoal
