#include "node/hints/hint_record.h"

#include <cstring>

#include "common/typed/typed_value.h"

namespace shoal::node::hints {

namespace {

constexpr uint8_t kFormat = 1;
constexpr uint8_t kFlagTombstone = 1;
constexpr int kTypeShift = 1;
constexpr uint8_t kTypeMask = 0x06;

void PutBigEndian(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.append(b, 8);
}

uint64_t GetBigEndian(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void PutLittleEndian(std::string& out, int64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);  // x86-64 and arm64 are little-endian (as the wire format assumes)
  out.append(b, 8);
}

int64_t GetLittleEndian(const char* p) {
  int64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

size_t Hint::SpoolBytes() const {
  return target.size() + kHintKeyFixedBytes + key.size() + (value_type != 0 ? 8 : 0) +
         kHintValueHeaderBytes + value.size();
}

std::string TargetPrefix(std::string_view target) {
  std::string out(target);
  out.push_back('\0');
  return out;
}

std::string EncodeHintKey(const Hint& hint) {
  std::string out;
  out.reserve(hint.target.size() + kHintKeyFixedBytes + hint.key.size());
  out.append(hint.target);
  out.push_back('\0');
  PutBigEndian(out, hint.version.hlc);
  PutBigEndian(out, hint.version.writer);
  PutBigEndian(out, hint.expiry_version.hlc);
  PutBigEndian(out, hint.expiry_version.writer);
  out.append(hint.key);
  if (hint.value_type != 0) {
    PutBigEndian(out,
                 typed::BodyDigest(static_cast<typed::ValueType>(hint.value_type), hint.value));
  }
  return out;
}

std::string EncodeHintValue(const Hint& hint) {
  std::string out;
  out.reserve(kHintValueHeaderBytes + hint.value.size());
  out.push_back(static_cast<char>(kFormat));
  out.push_back(static_cast<char>((hint.tombstone ? kFlagTombstone : 0) |
                                  ((hint.value_type << kTypeShift) & kTypeMask)));
  PutLittleEndian(out, hint.stored_ms);
  PutLittleEndian(out, hint.expire_at_ms);
  out.append(hint.value);
  return out;
}

StatusOr<Hint> DecodeHint(std::string_view record_key, std::string_view record_value) {
  const size_t nul = record_key.find('\0');
  if (nul == std::string_view::npos || record_key.size() < nul + kHintKeyFixedBytes) {
    return Status::Corruption("hint record key too short");
  }
  if (record_value.size() < kHintValueHeaderBytes ||
      static_cast<uint8_t>(record_value[0]) != kFormat) {
    return Status::Corruption("hint record value of an unknown format");
  }
  Hint h;
  h.target.assign(record_key.substr(0, nul));
  const char* v = record_key.data() + nul + 1;
  h.version = Version{GetBigEndian(v), GetBigEndian(v + 8)};
  h.expiry_version = Version{GetBigEndian(v + 16), GetBigEndian(v + 24)};
  h.key.assign(record_key.substr(nul + kHintKeyFixedBytes));
  h.tombstone = (static_cast<uint8_t>(record_value[1]) & kFlagTombstone) != 0;
  h.value_type =
      static_cast<uint8_t>((static_cast<uint8_t>(record_value[1]) & kTypeMask) >> kTypeShift);
  if (h.value_type != 0) {
    if (h.key.size() < 8) return Status::Corruption("typed hint record key too short");
    h.key.resize(h.key.size() - 8);  // its body digest
  }
  h.stored_ms = GetLittleEndian(record_value.data() + 2);
  h.expire_at_ms = GetLittleEndian(record_value.data() + 10);
  h.value.assign(record_value.substr(kHintValueHeaderBytes));
  return h;
}

}  // namespace shoal::node::hints
