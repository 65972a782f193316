#pragma once

// Conversions between the clock's Version and the schema's wire::Version struct, for every
// encoder and decoder of node messages (node, proxy, tools). In namespace wire so that argument-
// dependent lookup finds them beside a caller's own FromWire overloads (of other wire enums).

#include "common/clock/hlc.h"
#include "schemas/shoal_generated.h"

namespace shoal::wire {

inline Version ToWire(const shoal::Version& v) { return Version(v.hlc, v.writer); }

inline shoal::Version FromWire(const Version& v) { return shoal::Version{v.hlc(), v.writer()}; }

// An absent optional struct field (nullptr) is the zero version.
inline shoal::Version FromWire(const Version* v) {
  return v == nullptr ? shoal::Version{} : FromWire(*v);
}

}  // namespace shoal::wire
