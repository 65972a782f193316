#include "common/typed/elements.h"

#include <algorithm>
#include <deque>

#include "common/hash/key_hash.h"
#include "common/typed/byte_order.h"
#include "common/typed/counter.h"

namespace shoal::typed {

namespace {

constexpr uint8_t kFormat = 3;
constexpr uint8_t kFormatWithoutFloor = 2;  // still decoded: floor zero
constexpr size_t kHeaderWithoutFloor = 1 + 8 + 4;
constexpr uint64_t kElementSeed = 0x656c656d656e7473ull;
constexpr uint64_t kFloorSeed = 0x666c6f6f72ull;

void AppendElement(std::string& out, const ElementView& e) {
  PutU32(out, static_cast<uint32_t>(e.name.size()));
  out.append(e.name);
  PutU64(out, e.version.hlc);
  PutU64(out, e.version.writer);
  out.push_back(static_cast<char>(e.kind));
  PutU32(out, static_cast<uint32_t>(e.value.size()));
  out.append(e.value);
}

std::string EncodeWithDigest(std::span<const ElementView> elements, const Version& floor,
                             uint64_t digest) {
  size_t size = kElementsHeader;
  for (const ElementView& e : elements) size += kElementOverhead + e.name.size() + e.value.size();
  std::string out;
  out.reserve(size);
  out.push_back(static_cast<char>(kFormat));
  PutU64(out, digest);
  PutU64(out, floor.hlc);
  PutU64(out, floor.writer);
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

// Whether a body with floor `floor` that holds `held` (nullptr: nothing) under m's name lets the
// joined element m stand: it does unless it saw m's write (floor at or above m's version) and
// holds no element of m's version (the write was superseded there, by a removal it purged).
bool Admits(const Version& floor, const ElementView* held, const ElementView& m) {
  return (held != nullptr && held->version == m.version) || floor < m.version;
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
  out->floor = Version{};
  if (body.empty()) return false;
  const uint8_t format = static_cast<uint8_t>(body[0]);
  const size_t header = format == kFormat ? kElementsHeader : kHeaderWithoutFloor;
  if ((format != kFormat && format != kFormatWithoutFloor) || body.size() < header) return false;
  out->digest = GetU64(body.data() + 1);
  if (format == kFormat) out->floor = Version{GetU64(body.data() + 9), GetU64(body.data() + 17)};
  const uint32_t count = GetU32(body.data() + header - 4);
  // Each element takes at least kElementOverhead bytes: a count beyond that is malformed (and
  // must not drive a huge reserve).
  if (count > (body.size() - header) / kElementOverhead) return false;
  out->elements.reserve(count);
  size_t pos = header;
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
  uint64_t digest = FloorHash(v.floor);
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

uint64_t FloorHash(const Version& floor) {
  if (floor.IsZero()) return 0;
  std::string buf;
  PutU64(buf, floor.hlc);
  PutU64(buf, floor.writer);
  return Hash64(buf, kFloorSeed);
}

std::string EncodeElements(std::span<const ElementView> elements, const Version& floor) {
  uint64_t digest = FloorHash(floor);
  for (const ElementView& e : elements) digest ^= ElementHash(e);
  return EncodeWithDigest(elements, floor, digest);
}

uint64_t StoredDigest(std::string_view body) {
  if (body.size() < kHeaderWithoutFloor) return 0;
  const uint8_t format = static_cast<uint8_t>(body[0]);
  return format == kFormat || format == kFormatWithoutFloor ? GetU64(body.data() + 1) : 0;
}

bool MergeElements(std::string_view a, std::string_view b, std::string* out) {
  // The digest is carried from the larger body and updated with the elements the join changes:
  // the cost of hashing is the delta's, not the body's.
  if (a.size() < b.size()) std::swap(a, b);
  ElementsView big, small;
  if (!DecodeElements(a, &big) || !DecodeElements(b, &small)) return false;
  if (small.elements.empty() && small.floor <= big.floor && static_cast<uint8_t>(a[0]) == kFormat) {
    out->assign(a);
    return true;
  }
  const Version floor = std::max(big.floor, small.floor);
  std::deque<std::string> scratch;
  std::vector<ElementView> merged;
  merged.reserve(big.elements.size() + small.elements.size());
  uint64_t digest = big.digest ^ FloorHash(big.floor) ^ FloorHash(floor);
  // m stands when both bodies admit it and it is no tombstone the floor stands for.
  const auto keep = [&](const ElementView& m, const ElementView* in_big,
                        const ElementView* in_small) {
    if (m.kind == ElementKind::kTombstone && m.version <= floor) return false;
    return Admits(big.floor, in_big, m) && Admits(small.floor, in_small, m);
  };
  size_t i = 0, j = 0;
  while (i < big.elements.size() || j < small.elements.size()) {
    if (j == small.elements.size() ||
        (i < big.elements.size() && big.elements[i].name < small.elements[j].name)) {
      const ElementView& x = big.elements[i++];
      if (keep(x, &x, nullptr)) {
        merged.push_back(x);
      } else {
        digest ^= ElementHash(x);
      }
    } else if (i == big.elements.size() || small.elements[j].name < big.elements[i].name) {
      const ElementView& y = small.elements[j++];
      if (keep(y, nullptr, &y)) {
        digest ^= ElementHash(y);
        merged.push_back(y);
      }
    } else {
      const ElementView& x = big.elements[i++];
      const ElementView& y = small.elements[j++];
      const ElementView joined = JoinElement(x, y, scratch);
      if (!keep(joined, &x, &y)) {
        digest ^= ElementHash(x);
      } else {
        if (!(joined == x)) digest ^= ElementHash(x) ^ ElementHash(joined);
        merged.push_back(joined);
      }
    }
  }
  *out = EncodeWithDigest(merged, floor, digest);
  return true;
}

bool PurgeElements(std::string_view body, const Version& horizon, std::string* out) {
  ElementsView v;
  if (!DecodeElements(body, &v)) return false;
  Version floor = v.floor;
  uint64_t digest = v.digest ^ FloorHash(v.floor);
  std::vector<ElementView> kept;
  kept.reserve(v.elements.size());
  for (const ElementView& e : v.elements) {
    if (e.kind == ElementKind::kTombstone && e.version < horizon) {
      floor = std::max(floor, e.version);
      digest ^= ElementHash(e);
    } else {
      kept.push_back(e);
    }
  }
  if (kept.size() == v.elements.size()) return false;
  *out = EncodeWithDigest(kept, floor, digest ^ FloorHash(floor));
  return true;
}

ElementKinds KindsOf(std::string_view body) {
  ElementKinds kinds;
  ElementsView v;
  if (!DecodeElements(body, &v)) return kinds;
  for (const ElementView& e : v.elements) {
    (e.live() ? kinds.live : kinds.tombstone) = true;
    if (kinds.live && kinds.tombstone) break;
  }
  return kinds;
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
