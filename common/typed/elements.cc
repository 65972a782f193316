#include "common/typed/elements.h"

#include <algorithm>
#include <deque>

#include "common/hash/key_hash.h"
#include "common/typed/counter.h"

namespace shoal::typed {

namespace {

constexpr uint8_t kFormat = 2;
constexpr uint64_t kElementSeed = 0x656c656d656e7473ull;

void PutU32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 4);
}
void PutU64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

void AppendElement(std::string& out, const ElementView& e) {
  PutU32(out, static_cast<uint32_t>(e.name.size()));
  out.append(e.name);
  PutU64(out, e.version.hlc);
  PutU64(out, e.version.writer);
  out.push_back(static_cast<char>(e.kind));
  PutU32(out, static_cast<uint32_t>(e.value.size()));
  out.append(e.value);
}

std::string EncodeWithDigest(std::span<const ElementView> elements, uint64_t digest) {
  size_t size = kElementsHeader;
  for (const ElementView& e : elements) size += kElementOverhead + e.name.size() + e.value.size();
  std::string out;
  out.reserve(size);
  out.push_back(static_cast<char>(kFormat));
  PutU64(out, digest);
  PutU32(out, static_cast<uint32_t>(elements.size()));
  for (const ElementView& e : elements) AppendElement(out, e);
  return out;
}

// The join of two elements of one name. A merged counter's body is kept in `scratch`.
ElementView JoinElement(const ElementView& x, const ElementView& y,
                        std::deque<std::string>& scratch) {
  if (x.version != y.version) return x.version > y.version ? x : y;
  if (x.kind == ElementKind::kTombstone || y.kind == ElementKind::kTombstone) {
    return x.kind == ElementKind::kTombstone ? x : y;
  }
  if (x.kind != y.kind) return x.kind == ElementKind::kCounter ? x : y;
  if (x.kind == ElementKind::kValue) return x.value >= y.value ? x : y;
  Counter cx, cy;
  const bool ox = Counter::Decode(x.value, &cx);
  const bool oy = Counter::Decode(y.value, &cy);
  if (!ox || !oy) {
    if (ox != oy) return ox ? x : y;
    return x.value >= y.value ? x : y;
  }
  std::string merged = Counter::Merge(cx, cy).Encode();
  if (merged == x.value) return x;
  if (merged == y.value) return y;
  scratch.push_back(std::move(merged));
  ElementView out = x;
  out.value = scratch.back();
  return out;
}

}  // namespace

const ElementView* ElementsView::Find(std::string_view name) const {
  auto it = std::lower_bound(elements.begin(), elements.end(), name,
                             [](const ElementView& e, std::string_view n) { return e.name < n; });
  return it != elements.end() && it->name == name ? &*it : nullptr;
}

size_t ElementsView::LiveCount() const {
  size_t n = 0;
  for (const ElementView& e : elements) n += e.live() ? 1 : 0;
  return n;
}

bool DecodeElements(std::string_view body, ElementsView* out) {
  out->elements.clear();
  out->digest = 0;
  if (body.size() < kElementsHeader || static_cast<uint8_t>(body[0]) != kFormat) return false;
  out->digest = GetU64(body.data() + 1);
  const uint32_t count = GetU32(body.data() + 9);
  // Each element takes at least kElementOverhead bytes: a count beyond that is malformed (and
  // must not drive a huge reserve).
  if (count > (body.size() - kElementsHeader) / kElementOverhead) return false;
  out->elements.reserve(count);
  size_t pos = kElementsHeader;
  for (uint32_t i = 0; i < count; ++i) {
    if (body.size() - pos < kElementOverhead) return false;
    ElementView e;
    const uint32_t name_size = GetU32(body.data() + pos);
    pos += 4;
    if (body.size() - pos < size_t{name_size} + kElementOverhead - 4) return false;
    e.name = body.substr(pos, name_size);
    pos += name_size;
    e.version = Version{GetU64(body.data() + pos), GetU64(body.data() + pos + 8)};
    pos += 16;
    const uint8_t kind = static_cast<uint8_t>(body[pos]);
    if (kind > static_cast<uint8_t>(ElementKind::kCounter)) return false;
    e.kind = static_cast<ElementKind>(kind);
    pos += 1;
    const uint32_t value_size = GetU32(body.data() + pos);
    pos += 4;
    if (body.size() - pos < value_size) return false;
    e.value = body.substr(pos, value_size);
    pos += value_size;
    if (e.kind == ElementKind::kTombstone && !e.value.empty()) return false;
    if (!out->elements.empty() && out->elements.back().name >= e.name) return false;
    out->elements.push_back(e);
  }
  return pos == body.size();
}

bool ValidateElements(std::string_view body, bool set) {
  ElementsView v;
  if (!DecodeElements(body, &v)) return false;
  uint64_t digest = 0;
  for (const ElementView& e : v.elements) {
    if (set && (e.kind == ElementKind::kCounter || !e.value.empty())) return false;
    if (e.kind == ElementKind::kCounter) {
      Counter c;
      if (!Counter::Decode(e.value, &c)) return false;
    }
    digest ^= ElementHash(e);
  }
  return digest == v.digest;
}

uint64_t ElementHash(const ElementView& e) {
  thread_local std::string buf;
  buf.clear();
  AppendElement(buf, e);
  return Hash64(buf, kElementSeed);
}

std::string EncodeElements(std::span<const ElementView> elements) {
  uint64_t digest = 0;
  for (const ElementView& e : elements) digest ^= ElementHash(e);
  return EncodeWithDigest(elements, digest);
}

uint64_t StoredDigest(std::string_view body) {
  if (body.size() < kElementsHeader || static_cast<uint8_t>(body[0]) != kFormat) return 0;
  return GetU64(body.data() + 1);
}

bool MergeElements(std::string_view a, std::string_view b, std::string* out) {
  // The digest is carried from the larger body and updated with the elements the smaller one
  // changes: the cost of hashing is the delta's, not the body's.
  if (a.size() < b.size()) std::swap(a, b);
  ElementsView big, small;
  if (!DecodeElements(a, &big) || !DecodeElements(b, &small)) return false;
  if (small.elements.empty()) {
    out->assign(a);
    return true;
  }
  std::deque<std::string> scratch;
  std::vector<ElementView> merged;
  merged.reserve(big.elements.size() + small.elements.size());
  uint64_t digest = big.digest;
  size_t i = 0, j = 0;
  while (i < big.elements.size() || j < small.elements.size()) {
    if (j == small.elements.size() ||
        (i < big.elements.size() && big.elements[i].name < small.elements[j].name)) {
      merged.push_back(big.elements[i++]);
    } else if (i == big.elements.size() || small.elements[j].name < big.elements[i].name) {
      digest ^= ElementHash(small.elements[j]);
      merged.push_back(small.elements[j++]);
    } else {
      const ElementView& x = big.elements[i++];
      const ElementView joined = JoinElement(x, small.elements[j++], scratch);
      if (!(joined == x)) digest ^= ElementHash(x) ^ ElementHash(joined);
      merged.push_back(joined);
    }
  }
  *out = EncodeWithDigest(merged, digest);
  return true;
}

Version NewestElementVersion(std::string_view body) {
  ElementsView v;
  Version newest;
  if (!DecodeElements(body, &v)) return newest;
  for (const ElementView& e : v.elements) {
    newest = std::max(newest, e.version);
    if (e.kind == ElementKind::kCounter) {
      Counter c;
      if (!Counter::Decode(e.value, &c)) continue;
      for (const CounterComponent& x : c.components) newest = std::max(newest, x.version);
    }
  }
  return newest;
}

std::string RenderElement(const ElementView& e) {
  if (e.kind != ElementKind::kCounter) return std::string(e.value);
  Counter c;
  return Counter::Decode(e.value, &c) ? c.Render() : std::string();
}

}  // namespace shoal::typed
