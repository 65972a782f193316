#pragma once

// The writes of hashes and sets (docs/data-model.md): from the merged body the read resolved and a
// command's arguments, the client's reply and the delta to write (the elements changed, each at
// a fresh element version; common/typed/elements.h merges it on every replica). Pure functions;
// KeyOperation (ValueTransform::kElements) calls them, again on every rebuilt attempt.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/clock/hlc.h"
#include "common/typed/elements.h"
#include "common/typed/typed_value.h"

namespace shoal::proxy {

enum class ElementOp : uint8_t {
  kNone,
  kHSet,          // args: field value [field value ...]; integer: fields created
  kHSetNx,        // args: field value; integer: 1 when set
  kHDel,          // args: field ...; integer: fields removed
  kHIncrBy,       // args: field; by; integer: the new value (a per-field PN-counter)
  kHIncrByFloat,  // args: field; by_float; text: the new value as Redis prints it
  kSAdd,          // args: member ...; integer: members added
  kSRem,          // args: member ...; integer: members removed
  kSPop,          // count members removed at random; text: EncodeList of them
};

inline bool IsSetOp(ElementOp op) {
  return op == ElementOp::kSAdd || op == ElementOp::kSRem || op == ElementOp::kSPop;
}
inline typed::ValueType ElementOpType(ElementOp op) {
  return IsSetOp(op) ? typed::ValueType::kSet : typed::ValueType::kHash;
}

struct ElementInput {
  ElementOp op = ElementOp::kNone;
  std::span<const std::string> args;
  int64_t by = 0;
  long double by_float = 0;
  int64_t count = 0;            // SPOP
  uint64_t counter_writer = 0;  // HINCRBY's component (one per client connection)
  uint64_t seed = 0;            // SPOP's choice
  // Limits (0: none): live elements after the write, and the body's bytes after it.
  uint64_t max_elements = 0;
  uint64_t max_bytes = 0;
};

struct ElementOutcome {
  bool write = false;       // `delta` is to be written
  std::string_view error;   // a Redis error (static text; nothing written)
  std::string limit_error;  // a limit exceeded (nothing written)
  int64_t integer = 0;
  std::string text;
  std::string delta;  // an elements body (elements.h)
};

// `held`: the decoded live body (nullptr: none); `held_bytes` its encoded size.
void MutateElements(const ElementInput& in, const typed::ElementsView* held, size_t held_bytes,
                    const Version& element_version, ElementOutcome* out);

// A list of strings in one string (SPOP's members): u32 size | bytes, repeated.
void AppendListItem(std::string& out, std::string_view item);
// Calls fn(std::string_view) for each item; false when malformed.
template <typename Fn>
bool ForEachListItem(std::string_view list, Fn&& fn) {
  size_t pos = 0;
  while (pos < list.size()) {
    if (list.size() - pos < 4) return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= uint32_t{static_cast<uint8_t>(list[pos + i])} << (8 * i);
    pos += 4;
    if (list.size() - pos < n) return false;
    fn(list.substr(pos, n));
    pos += n;
  }
  return true;
}

}  // namespace shoal::proxy
