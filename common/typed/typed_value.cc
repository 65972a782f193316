#include "common/typed/typed_value.h"

#include <algorithm>
#include <limits>

#include "common/hash/key_hash.h"
#include "common/typed/counter.h"
#include "common/typed/elements.h"

namespace shoal::typed {

std::string_view RedisTypeName(ValueType type) {
  switch (type) {
    case ValueType::kString:
    case ValueType::kCounter:
      return "string";
    case ValueType::kHash:
      return "hash";
    case ValueType::kSet:
      return "set";
  }
  return "none";
}

bool MergeValues(ValueType a_type, std::string_view a, ValueType b_type, std::string_view b,
                 ValueType* type, std::string* out) {
  if (a_type != b_type) {
    // The greater type wins: a typed body over the string it was built on; between two typed
    // bodies (concurrent first writes of two types), the greater number, on every replica alike.
    const bool a_wins = a_type > b_type;
    *type = a_wins ? a_type : b_type;
    out->assign(a_wins ? a : b);
    return true;
  }
  *type = a_type;
  switch (a_type) {
    case ValueType::kString:
      // One version names one value; should two ever differ, the greater wins everywhere.
      out->assign(std::max(a, b));
      return true;
    case ValueType::kCounter: {
      Counter x, y;
      if (!Counter::Decode(a, &x) || !Counter::Decode(b, &y)) return false;
      *out = Counter::Merge(x, y).Encode();
      return true;
    }
    case ValueType::kHash:
    case ValueType::kSet:
      return MergeElements(a, b, out);
  }
  return false;
}

State Join(const State& a, const State& b) {
  if (!a.found) return b;
  if (!b.found) return a;
  if (a.version != b.version) return a.version > b.version ? a : b;
  const Version ea = a.effective_expiry();
  const Version eb = b.effective_expiry();
  if (a.tombstone || b.tombstone) {
    if (ea != eb) return ea > eb ? a : b;
    return a.tombstone ? a : b;
  }
  State out = ea >= eb ? a : b;  // the greater expiry's expiry
  if (!MergeValues(a.type, a.value, b.type, b.value, &out.type, &out.value)) {
    // An undecodable body (a buggy peer): keep the one that decodes, deterministically.
    const bool a_ok = ValidateBody(a.type, a.value).ok();
    const bool b_ok = ValidateBody(b.type, b.value).ok();
    const State& keep = a_ok != b_ok ? (a_ok ? a : b) : (a.value >= b.value ? a : b);
    out.type = keep.type;
    out.value = keep.value;
  }
  return out;
}

Version DerivedVersion(const Version& base_version, const Version& base_expiry_version) {
  const Version base = std::max(base_version, base_expiry_version);
  if (base.writer == std::numeric_limits<uint64_t>::max()) return Version{base.hlc + 1, 0};
  return Version{base.hlc, base.writer + 1};
}

uint64_t BodyDigest(ValueType type, std::string_view value) {
  if (type == ValueType::kString) return 0;
  uint64_t d;
  if (type == ValueType::kHash || type == ValueType::kSet) {
    // The XOR of the elements' hashes, kept in the body (elements.h): O(1), not O(body).
    d = StoredDigest(value) * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(type);
  } else {
    d = Hash64(value, 0x7479706564ull + static_cast<uint64_t>(type));
  }
  return d == 0 ? 1 : d;
}

Status ValidateBody(ValueType type, std::string_view value) {
  switch (type) {
    case ValueType::kString:
      return Status::Ok();
    case ValueType::kCounter: {
      Counter c;
      if (!Counter::Decode(value, &c)) return Status::InvalidArgument("malformed counter body");
      return Status::Ok();
    }
    case ValueType::kHash:
    case ValueType::kSet:
      if (!ValidateElements(value, type == ValueType::kSet)) {
        return Status::InvalidArgument(type == ValueType::kSet ? "malformed set body"
                                                               : "malformed hash body");
      }
      return Status::Ok();
  }
  return Status::InvalidArgument("unsupported value type");
}

Version NewestElement(ValueType type, std::string_view value) {
  Version newest;
  if (type == ValueType::kCounter) {
    Counter c;
    if (!Counter::Decode(value, &c)) return newest;
    for (const CounterComponent& x : c.components) newest = std::max(newest, x.version);
  } else if (type == ValueType::kHash || type == ValueType::kSet) {
    newest = NewestElementVersion(value);
  }
  return newest;
}

size_t ElementCount(ValueType type, std::string_view value) {
  if (type == ValueType::kCounter) {
    Counter c;
    if (Counter::Decode(value, &c)) return c.components.size();
  } else if (type == ValueType::kHash || type == ValueType::kSet) {
    ElementsView v;
    if (DecodeElements(value, &v)) return v.elements.size();
  }
  return 0;
}

bool EmptyTyped(ValueType type, std::string_view value) {
  if (type != ValueType::kHash && type != ValueType::kSet) return false;
  ElementsView v;
  if (!DecodeElements(value, &v)) return true;
  for (const ElementView& e : v.elements) {
    if (e.live()) return false;
  }
  return true;
}

}  // namespace shoal::typed
