#pragma once

// Elements: the body of a hash (fields) and of a set (members), docs/data-model.md. Plain values
// and functions; no thread rules.
//
// A body is a map from element name to one element, each with its own version:
//
//   kValue      a hash field's value (a set member: present, value empty)
//   kTombstone  removed (HDEL, SREM) at `version`
//   kCounter    a hash field incremented by HINCRBY / HINCRBYFLOAT: `value` is a typed::Counter
//               body (a base string and one component per writer), `version` the version of the
//               field write it builds on (as a counter key's whole-key version, typed_value.h)
//
// The join of two bodies (of one whole-key version) joins element by element:
//   - different versions: the greater wins whole (last writer wins per element);
//   - the same version: a tombstone wins; else a counter wins over the value it was built on;
//     two counters merge per writer (Counter::Merge); two values: the greater bytes (one version
//     names one value).
// This is a join (commutative, associative, idempotent) on any bodies, so every path into a
// replica and the proxy's read resolution apply the same one.
//
// Canonical encoding (elements sorted by name, bytewise, unique; little-endian):
//
//   u8 format (2) | u64 digest | u32 count | count x element
//   element: u32 name_size | name | u64 version.hlc | u64 version.writer | u8 kind |
//            u32 value_size | value
//
// `digest` is the XOR of every element's ElementHash: a join updates it with the hashes of the
// elements it changes only, so a large hash is not rehashed per write (BodyDigest reads it;
// Validate checks it on bodies from the network).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/hlc.h"

namespace shoal::typed {

enum class ElementKind : uint8_t { kValue = 0, kTombstone = 1, kCounter = 2 };

struct ElementView {
  std::string_view name;
  Version version;
  ElementKind kind = ElementKind::kValue;
  std::string_view value;
  bool operator==(const ElementView&) const = default;
  bool live() const { return kind != ElementKind::kTombstone; }
};

// Per-element encoding overhead (name and value sizes, version, kind): what an element costs
// beyond its name and value bytes.
inline constexpr size_t kElementOverhead = 4 + 16 + 1 + 4;
inline constexpr size_t kElementsHeader = 1 + 8 + 4;

// A decoded body: views into the bytes decoded (which must outlive it).
struct ElementsView {
  uint64_t digest = 0;
  std::vector<ElementView> elements;  // sorted by name

  // The element named `name`, or nullptr.
  const ElementView* Find(std::string_view name) const;
  size_t LiveCount() const;
};

// False when `body` is not well-formed (sizes, format, order). Does not check the digest or the
// counters inside (Validate does).
bool DecodeElements(std::string_view body, ElementsView* out);
// Full check of a body from the network: well-formed, counter elements decode, digest matches;
// `set`: only kValue (empty value) and kTombstone elements.
bool ValidateElements(std::string_view body, bool set);

// Encodes `elements` (sorted by name, unique), computing the digest.
std::string EncodeElements(std::span<const ElementView> elements);
uint64_t ElementHash(const ElementView& e);
// The digest stored in a body (0 when malformed).
uint64_t StoredDigest(std::string_view body);

// The join described above, of two well-formed bodies. Returns false when one does not decode.
bool MergeElements(std::string_view a, std::string_view b, std::string* out);

// The newest version in a body: elements' and, inside counters, their components'.
Version NewestElementVersion(std::string_view body);

// A field's value as Redis shows it: the value, or a counter rendered (Counter::Render).
std::string RenderElement(const ElementView& e);

}  // namespace shoal::typed
