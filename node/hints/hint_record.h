#pragma once

// A hint: one write spooled for a node that could not take it (hinted handoff, see
// docs/architecture.md), and its encoding in the spool's RocksDB database.
//
// Record key (the order gives replay per target in version order):
//
//   target | 0x00 | version.hlc | version.writer | expiry_version.hlc | expiry_version.writer | key
//                   (four big-endian u64)
//
// Node ids never contain a NUL byte (HintPuts naming such a target are refused), so a target's
// records are exactly those starting with `target | 0x00`. The two versions make the record key
// unique per (key, version pair): the same hint sent twice is stored once. A typed value's hint
// (docs/data-model.md: a counter's delta) is followed by its typed::BodyDigest (big-endian u64),
// because many deltas share one version pair and each must be kept (a delta of the same body
// sent twice is stored once).
//
// Record value:
//
//   format u8 (= 1) | flags u8 (bit 0: tombstone; bits 1-2: typed::ValueType) |
//   stored_ms i64 LE | expire_at_ms i64 LE | value (a typed value's body)
//
// Plain values; no thread rules.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock/hlc.h"
#include "common/status/status.h"

namespace shoal::node::hints {

struct Hint {
  std::string target;  // node id of the intended owner
  std::string key;
  std::string value;         // empty for a tombstone
  Version version;           // of the value (or tombstone)
  Version expiry_version;    // of the expiry; never older than `version`
  int64_t expire_at_ms = 0;  // absolute unix ms; 0 = no expiry
  bool tombstone = false;
  uint8_t value_type = 0;  // typed::ValueType; 0: a string
  int64_t stored_ms = 0;   // wall ms when the hint was spooled (for --hint-window)

  // Bytes the hint takes in the spool's accounting (--hint-max-bytes): its record key + value.
  size_t SpoolBytes() const;
};

inline constexpr size_t kHintKeyFixedBytes = 1 + 4 * 8;  // the NUL and the four versions
inline constexpr size_t kHintValueHeaderBytes = 1 + 1 + 8 + 8;

// `target` | 0x00: the prefix of every record of that target.
std::string TargetPrefix(std::string_view target);
std::string EncodeHintKey(const Hint& hint);
std::string EncodeHintValue(const Hint& hint);
// Fails (Corruption) on a record this version cannot read.
StatusOr<Hint> DecodeHint(std::string_view record_key, std::string_view record_value);

}  // namespace shoal::node::hints
