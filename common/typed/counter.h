#pragma once

// Counter: the body of a PN-counter (INCR DECR INCRBY DECRBY INCRBYFLOAT; docs/data-model.md).
// Plain values; no thread rules.
//
// value = base + sum over writers of (p - n) + (pf - nf)
//
// `base` is the string value the counter was built on (the live string at the counter's whole-key
// version; empty when it was built on nothing), so every writer that builds on the same version
// agrees on it. Each writer (one client connection of one proxy process: its increments are
// serialised) owns one component, whose four parts only grow: p and n the integer increments and
// decrements, pf and nf the float ones (INCRBYFLOAT). The merge keeps, per writer, the maximum of
// each part and of the component's version (its last write): a join, so any order of delivery
// gives the same counter.
//
// Encoding (canonical: components sorted by writer, little-endian, long double as its 10
// significant bytes zero-padded to 16):
//
//   u8 format (1) | u32 base_size | base bytes | u32 count | count x component
//   component: u64 writer | u64 version.hlc | u64 version.writer | u64 p | u64 n | 16 pf | 16 nf

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/hlc.h"

namespace shoal::typed {

struct CounterComponent {
  uint64_t writer = 0;
  Version version;
  uint64_t p = 0;
  uint64_t n = 0;
  long double pf = 0;
  long double nf = 0;
  bool operator==(const CounterComponent&) const = default;
};

struct Counter {
  std::string base;
  std::vector<CounterComponent> components;  // sorted by writer, one per writer

  bool operator==(const Counter&) const = default;

  // Encodes canonically (sorts nothing: components must be sorted, as Decode and Merge leave them).
  std::string Encode() const;
  // False when `body` is not a well-formed counter body (sizes, format, order, finite parts >= 0).
  static bool Decode(std::string_view body, Counter* out);

  // Per writer, the maximum of every part. Both sorted; the result is sorted.
  static Counter Merge(const Counter& a, const Counter& b);

  // The component of `writer` (a zero one when it has none).
  CounterComponent ComponentOf(uint64_t writer) const;
  // Replaces (or inserts, keeping the order) the component of c.writer.
  void SetComponent(const CounterComponent& c);

  bool HasFloatParts() const;
  // The value as Redis would hold it: an integer (base an integer and no float parts) is printed
  // as %lld (exact, even past int64 when writers together overflowed it), otherwise the long
  // double sum as INCRBYFLOAT prints it (FormatLongDouble).
  std::string Render() const;
};

// Redis's string2ll: an optional '-', no leading zeros, no spaces or '+', within int64.
bool ParseRedisInteger(std::string_view s, int64_t* out);
// Redis's string2ld (INCRBYFLOAT's parse): strtold of the whole string, no leading space, not NaN,
// no overflow to infinity from a finite spelling.
bool ParseRedisLongDouble(std::string_view s, long double* out);
// Redis's ld2string(LD_STR_HUMAN): "%.17Lf" with trailing zeros (and a trailing '.') removed,
// "-0" printed as "0".
std::string FormatLongDouble(long double v);

// INCRBY's arithmetic on a counter for `writer` (version: the write's), as Redis checks it:
//   the current value must be an integer ("ERR value is not an integer or out of range"), the
//   result must fit int64 ("ERR increment or decrement would overflow").
// On success: *result is the new value and `counter` holds the writer's new component.
enum class CounterError : uint8_t { kNone, kNotInteger, kOverflow, kNotFloat, kNanOrInfinity };
CounterError IncrementBy(Counter& counter, uint64_t writer, const Version& version, int64_t by,
                         int64_t* result);
// INCRBYFLOAT: the current value must parse as a long double ("ERR value is not a valid float"),
// the result must be finite ("ERR increment would produce NaN or Infinity"). *result is the new
// value as Redis prints it.
CounterError IncrementByFloat(Counter& counter, uint64_t writer, const Version& version,
                              long double by, std::string* result);

// Redis's wording for each error (without the leading '-').
std::string_view CounterErrorText(CounterError e);

}  // namespace shoal::typed
