#include "proxy/command/element_scan.h"

#include <algorithm>
#include <utility>

#include "common/hash/key_hash.h"
#include "common/text/glob.h"

namespace shoal::proxy {

namespace {

constexpr uint64_t kScanSeed = 0x6873636e;  // "hscn"

bool Matches(std::string_view pattern, std::string_view name) {
  return pattern.empty() || GlobMatch(pattern, name);
}

}  // namespace

uint64_t ElementScanKey(std::string_view name) {
  const uint64_t h = Hash64(name, kScanSeed);
  return h == 0 ? 1 : h;
}

ElementScanPage ScanElements(std::span<const typed::ElementView> live, uint64_t cursor,
                             int64_t count, std::string_view pattern) {
  ElementScanPage page;
  if (cursor == 0 && live.size() <= kWholeScanElements) {
    for (const typed::ElementView& e : live) {
      if (Matches(pattern, e.name)) page.elements.push_back(&e);
    }
    return page;
  }
  std::vector<std::pair<uint64_t, const typed::ElementView*>> order;
  order.reserve(live.size());
  for (const typed::ElementView& e : live) {
    const uint64_t key = ElementScanKey(e.name);
    if (key >= cursor) order.emplace_back(key, &e);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->name < b.second->name;
  });
  const size_t wanted = static_cast<size_t>(std::max<int64_t>(count, 1));
  size_t taken = std::min(wanted, order.size());
  while (taken > 0 && taken < order.size() && order[taken].first == order[taken - 1].first) {
    ++taken;  // never split a key between two pages
  }
  for (size_t i = 0; i < taken; ++i) {
    if (Matches(pattern, order[i].second->name)) page.elements.push_back(order[i].second);
  }
  page.cursor = taken < order.size() ? order[taken].first : 0;
  return page;
}

}  // namespace shoal::proxy
