#pragma once

// HSCAN / SSCAN pages over a hash's or set's live elements (docs/data-model.md, "HSCAN and
// SSCAN"). Pure functions; no thread rules.
//
// The proxy holds no iterator: every call reads the key's merged body again, so the cursor must
// say where the walk is in an order that does not depend on which other elements exist. Elements
// are walked by ElementScanKey(name), a 64-bit hash of the name (never 0), and the cursor is the
// key to resume from:
//
//   cursor 0                    start (and, answered, the end)
//   cursor c                    the elements whose key is >= c
//
// A page takes the first `count` elements from the cursor on, plus every element sharing the last
// one's key (a page never splits a key), and answers the key of the next element as its cursor.
// So an element present for the whole scan is returned at least once, whatever is added or
// removed meanwhile; an element whose key another shares may come twice across a resize, never
// (as in Redis). MATCH filters a page after it is taken (a page may come back empty with a
// nonzero cursor), as Redis does. A hash or set of at most kWholeScanElements live elements is
// answered whole from cursor 0 with cursor 0, as Redis answers its small (listpack, intset)
// encodings, in name order.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/typed/elements.h"

namespace shoal::proxy {

inline constexpr size_t kWholeScanElements = 128;

uint64_t ElementScanKey(std::string_view name);

struct ElementScanPage {
  uint64_t cursor = 0;                              // the next call's; 0: the walk is over
  std::vector<const typed::ElementView*> elements;  // matching MATCH
};

// `live`: the live elements, in name order. `pattern` empty: every element.
ElementScanPage ScanElements(std::span<const typed::ElementView> live, uint64_t cursor,
                             int64_t count, std::string_view pattern);

}  // namespace shoal::proxy
