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
// Purged tombstones and the floor (docs/data-model.md, "Element tombstones"). A node drops the
// tombstones older than its element grace (PurgeElements) and raises the body's `floor` to the
// newest version it dropped: "this body has seen every element write at or below the floor". The
// join then also decides by floors, per name:
//   - the winner m (the join above of the elements of the greatest version) is kept unless a body
//     whose floor is at or above m's version does not hold an element of that version: that body
//     saw m's write and the removal that superseded it, whose tombstone it purged;
//   - a tombstone at or below the joined floor is dropped (the floor stands for it);
//   - the joined floor is the greater one.
// A write builds above the floor it read: fresh element versions are above it, and a HINCRBY of
// a field the body does not hold builds on DerivedVersion(floor) (proxy/quorum/element_mutation).
// So a replica that missed a removal for longer than the grace cannot bring the removed field
// back: the floor of the body it meets drops it.
//
// Canonical encoding (elements sorted by name, bytewise, unique; no tombstone at or below the
// floor; little-endian):
//
//   u8 format (3) | u64 digest | u64 floor.hlc | u64 floor.writer | u32 count | count x element
//   element: u32 name_size | name | u64 version.hlc | u64 version.writer | u8 kind |
//            u32 value_size | value
//
// (Format 2, without the floor, still decodes: floor zero.) `digest` is the XOR of every
// element's ElementHash and of FloorHash(floor): a join updates it with the hashes of the elements
// it changes only, so a large hash is not rehashed per write (BodyDigest reads it; Validate checks
// it on bodies from the network).

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
inline constexpr size_t kElementsHeader = 1 + 8 + 16 + 4;

// A decoded body: views into the bytes decoded (which must outlive it).
struct ElementsView {
  uint64_t digest = 0;
  Version floor;  // every element write at or below it has been seen (see "Purged tombstones")
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

// Encodes `elements` (sorted by name, unique) and `floor`, computing the digest.
std::string EncodeElements(std::span<const ElementView> elements, const Version& floor = {});
uint64_t ElementHash(const ElementView& e);
uint64_t FloorHash(const Version& floor);  // 0 for a zero floor
// The digest stored in a body (0 when malformed).
uint64_t StoredDigest(std::string_view body);

// The join described above, of two well-formed bodies. Returns false when one does not decode.
bool MergeElements(std::string_view a, std::string_view b, std::string* out);

// The newest version in a body: elements' and, inside counters, their components'.
Version NewestElementVersion(std::string_view body);

// Drops the tombstones whose version is below `horizon` and raises the floor to the newest one
// dropped. Returns false (and leaves `out` alone) when there is none to drop or the body does not
// decode. A node calls it with horizon = its wall clock minus its element grace.
bool PurgeElements(std::string_view body, const Version& horizon, std::string* out);

// Whether a well-formed body holds a live element, and a tombstone (false, false: malformed).
struct ElementKinds {
  bool live = false;
  bool tombstone = false;
};
ElementKinds KindsOf(std::string_view body);

// A field's value as Redis shows it: the value, or a counter rendered (Counter::Render).
std::string RenderElement(const ElementView& e);

}  // namespace shoal::typed
