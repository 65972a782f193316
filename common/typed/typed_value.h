#pragma once

// Typed values and their one merge (docs/data-model.md; DESIGN.md "Typed values"). Used by the
// node store (every path into a replica) and by the proxy's read resolution, so that both apply
// the same rule. Plain functions and values; no thread rules.
//
// A key's state is
//
//   found | tombstone | (version, expiry_version) | expire_at_ms | type | value
//
// `value` is the bytes of a string, or the encoded body of a typed value (a counter: counter.h;
// a hash or a set: elements.h). A typed value's `version` is that of the
// whole-key write it builds on (a SET, a DEL, an expiry, or nothing: see DerivedVersion), not of
// its latest element write: elements carry their own versions inside the body.
//
// Join(a, b), the merge (commutative, associative, idempotent on the states writers produce):
//   1. Different `version`s: the greater pair wins whole (docs/replication.md).
//   2. The same `version`:
//      - both live: the bodies merge (a typed body outranks the string it was built on; counters
//        merge per writer, component-wise maximum); the expiry is the greater expiry_version's;
//      - otherwise the greater expiry_version wins whole; at equal pairs a tombstone wins (an
//        expired value is a tombstone of its pair wherever it is seen).
//   Known corner, not associative: a live typed state and a tombstone of the same version and a
//   smaller expiry_version (expired there) joined before a third state of a greater
//   expiry_version drop the first state's elements (a tombstone keeps no body). It needs an
//   expiry, a Touch and element writes racing on one version; the elements lost are those written
//   before the key expired on some replica.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/hlc.h"
#include "common/status/status.h"

namespace shoal::typed {

// The numbering is the wire's (schemas/shoal.fbs ValueType).
enum class ValueType : uint8_t { kString = 0, kCounter = 1, kHash = 2, kSet = 3 };
inline constexpr uint8_t kMaxValueType = 3;

// Redis's TYPE name: a counter is a "string" to Redis clients.
std::string_view RedisTypeName(ValueType type);

struct State {
  bool found = false;
  bool tombstone = false;
  Version version;
  Version expiry_version;  // zero: equal to version
  int64_t expire_at_ms = 0;
  ValueType type = ValueType::kString;
  std::string value;

  Version effective_expiry() const { return expiry_version.IsZero() ? version : expiry_version; }
  bool operator==(const State&) const = default;
};

// The merge described above. Bodies that do not decode are treated as empty bodies of their type
// (a node validates bodies before storing them, so this only guards against a buggy peer).
State Join(const State& a, const State& b);

// Two live values of the same version: the merged (type, value). `a` and `b` are strings or
// bodies; a string is the base a typed body was built on, so a typed body wins over it; two
// different typed types (concurrent first writes of two types on one derived version) resolve to
// the greater type number, deterministically. Returns false when a body does not decode.
bool MergeValues(ValueType a_type, std::string_view a, ValueType b_type, std::string_view b,
                 ValueType* type, std::string* out);

// The whole-key version a typed write creates when the key is not live: derived from the state it
// replaces (a tombstone's or expired value's pair; the flush marker's; zero for nothing), so that
// concurrent first writers (through different proxies) agree on it and merge instead of one
// winning whole. Greater than the replaced pair, below every later real write's version.
Version DerivedVersion(const Version& base_version, const Version& base_expiry_version);

// A 64-bit hash of a typed body (anti-entropy digests, read-repair): 0 for strings.
uint64_t BodyDigest(ValueType type, std::string_view value);

// Validates a body received from the network. OK for strings.
Status ValidateBody(ValueType type, std::string_view value);

// The newest element version inside a typed body (zero for strings and empty bodies).
Version NewestElement(ValueType type, std::string_view value);

// Elements held (counter components, hash fields, set members, tombstones included); 0 for
// strings.
size_t ElementCount(ValueType type, std::string_view value);

// A hash or set with no live element (every one removed): Redis holds no such key, so reads treat
// it as absent. False for strings and counters.
bool EmptyTyped(ValueType type, std::string_view value);

}  // namespace shoal::typed
