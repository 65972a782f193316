#include "common/typed/counter.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "common/typed/byte_order.h"

namespace shoal::typed {

namespace {

constexpr uint8_t kFormat = 1;
constexpr size_t kLongDoubleBytes = 16;  // encoded size; 10 significant bytes on x86-64
constexpr size_t kLongDoubleSignificant =
    sizeof(long double) < 10 ? sizeof(long double) : size_t{10};
constexpr size_t kComponentBytes = 5 * 8 + 2 * kLongDoubleBytes;

void PutLongDouble(std::string& out, long double v) {
  char b[kLongDoubleBytes] = {};
  std::memcpy(b, &v, kLongDoubleSignificant);  // the padding bytes stay zero: canonical
  out.append(b, kLongDoubleBytes);
}
long double GetLongDouble(const char* p) {
  long double v = 0;
  std::memcpy(&v, p, kLongDoubleSignificant);
  return v;
}

std::string Int128ToString(__int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  unsigned __int128 u =
      negative ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
  std::string out;
  while (u != 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  if (negative) out.push_back('-');
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace

std::string Counter::Encode() const {
  std::string out;
  out.reserve(1 + 4 + base.size() + 4 + components.size() * kComponentBytes);
  out.push_back(static_cast<char>(kFormat));
  PutU32(out, static_cast<uint32_t>(base.size()));
  out.append(base);
  PutU32(out, static_cast<uint32_t>(components.size()));
  for (const CounterComponent& c : components) {
    PutU64(out, c.writer);
    PutU64(out, c.version.hlc);
    PutU64(out, c.version.writer);
    PutU64(out, c.p);
    PutU64(out, c.n);
    PutLongDouble(out, c.pf);
    PutLongDouble(out, c.nf);
  }
  return out;
}

bool Counter::Decode(std::string_view body, Counter* out) {
  out->base.clear();
  out->components.clear();
  if (body.size() < 9 || static_cast<uint8_t>(body[0]) != kFormat) return false;
  const uint32_t base_size = GetU32(body.data() + 1);
  if (body.size() < size_t{9} + base_size) return false;
  out->base.assign(body.substr(5, base_size));
  const char* p = body.data() + 5 + base_size;
  const uint32_t count = GetU32(p);
  p += 4;
  const size_t rest = body.size() - (9 + size_t{base_size});
  if (rest != size_t{count} * kComponentBytes) return false;
  out->components.reserve(count);
  for (uint32_t i = 0; i < count; ++i, p += kComponentBytes) {
    CounterComponent c;
    c.writer = GetU64(p);
    c.version = Version{GetU64(p + 8), GetU64(p + 16)};
    c.p = GetU64(p + 24);
    c.n = GetU64(p + 32);
    c.pf = GetLongDouble(p + 40);
    c.nf = GetLongDouble(p + 40 + kLongDoubleBytes);
    if (!std::isfinite(c.pf) || !std::isfinite(c.nf) || c.pf < 0 || c.nf < 0) return false;
    if (!out->components.empty() && out->components.back().writer >= c.writer) return false;
    out->components.push_back(c);
  }
  return true;
}

Counter Counter::Merge(const Counter& a, const Counter& b) {
  Counter out;
  // One version names one base; should two ever differ, the greater wins on every replica.
  out.base = std::max(a.base, b.base);
  out.components.reserve(a.components.size() + b.components.size());
  size_t i = 0, j = 0;
  while (i < a.components.size() || j < b.components.size()) {
    if (j == b.components.size() ||
        (i < a.components.size() && a.components[i].writer < b.components[j].writer)) {
      out.components.push_back(a.components[i++]);
    } else if (i == a.components.size() || b.components[j].writer < a.components[i].writer) {
      out.components.push_back(b.components[j++]);
    } else {
      const CounterComponent& x = a.components[i++];
      const CounterComponent& y = b.components[j++];
      CounterComponent c;
      c.writer = x.writer;
      c.version = std::max(x.version, y.version);
      c.p = std::max(x.p, y.p);
      c.n = std::max(x.n, y.n);
      c.pf = std::max(x.pf, y.pf);
      c.nf = std::max(x.nf, y.nf);
      out.components.push_back(c);
    }
  }
  return out;
}

CounterComponent Counter::ComponentOf(uint64_t writer) const {
  auto it = std::lower_bound(components.begin(), components.end(), writer,
                             [](const CounterComponent& c, uint64_t w) { return c.writer < w; });
  if (it != components.end() && it->writer == writer) return *it;
  CounterComponent c;
  c.writer = writer;
  return c;
}

void Counter::SetComponent(const CounterComponent& c) {
  auto it = std::lower_bound(components.begin(), components.end(), c.writer,
                             [](const CounterComponent& x, uint64_t w) { return x.writer < w; });
  if (it != components.end() && it->writer == c.writer) {
    *it = c;
  } else {
    components.insert(it, c);
  }
}

bool Counter::HasFloatParts() const {
  for (const CounterComponent& c : components) {
    if (c.pf != 0 || c.nf != 0) return true;
  }
  return false;
}

std::string Counter::Render() const {
  // Nothing added yet: the string it was built on, verbatim ("01" stays "01"), or 0.
  if (components.empty()) return base.empty() ? std::string("0") : base;
  int64_t base_int = 0;
  const bool base_is_int = base.empty() || ParseRedisInteger(base, &base_int);
  if (base_is_int && !HasFloatParts()) {
    __int128 sum = base_int;
    for (const CounterComponent& c : components) {
      sum += static_cast<__int128>(c.p);
      sum -= static_cast<__int128>(c.n);
    }
    return Int128ToString(sum);
  }
  long double sum = 0;
  if (base_is_int) {
    sum = static_cast<long double>(base_int);
  } else if (!ParseRedisLongDouble(base, &sum)) {
    sum = 0;
  }
  for (const CounterComponent& c : components) {
    sum += static_cast<long double>(c.p);
    sum -= static_cast<long double>(c.n);
  }
  for (const CounterComponent& c : components) sum += c.pf - c.nf;
  return FormatLongDouble(sum);
}

bool ParseRedisInteger(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) ++i;
  if (i >= s.size() || s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  if (negative) {
    if (v > uint64_t{1} << 63) return false;
    *out = v == uint64_t{1} << 63 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  } else {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool ParseRedisLongDouble(std::string_view s, long double* out) {
  // Redis: MAX_LONG_DOUBLE_CHARS (5 KiB), no leading space, the whole string consumed.
  if (s.empty() || s.size() >= 5 * 1024) return false;
  if (std::isspace(static_cast<unsigned char>(s[0]))) return false;
  const std::string copy(s);
  char* end = nullptr;
  errno = 0;
  const long double v = std::strtold(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return false;
  if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || std::fpclassify(v) == FP_ZERO)) {
    return false;
  }
  if (std::isnan(v)) return false;
  *out = v;
  return true;
}

std::string FormatLongDouble(long double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char small[128];
  const int n = std::snprintf(small, sizeof(small), "%.17Lf", v);
  std::string buf;
  if (n < static_cast<int>(sizeof(small))) {
    buf.assign(small, static_cast<size_t>(n));
  } else {
    buf.resize(static_cast<size_t>(n) + 1);
    std::snprintf(buf.data(), buf.size(), "%.17Lf", v);
    buf.resize(static_cast<size_t>(n));
  }
  if (buf.find('.') != std::string::npos) {
    while (!buf.empty() && buf.back() == '0') buf.pop_back();
    if (!buf.empty() && buf.back() == '.') buf.pop_back();
  }
  if (buf == "-0") buf = "0";
  return buf;
}

CounterError IncrementBy(Counter& counter, uint64_t writer, const Version& version, int64_t by,
                         int64_t* result) {
  int64_t current = 0;
  if (!ParseRedisInteger(counter.Render(), &current)) return CounterError::kNotInteger;
  if ((by < 0 && current < 0 && by < std::numeric_limits<int64_t>::min() - current) ||
      (by > 0 && current > 0 && by > std::numeric_limits<int64_t>::max() - current)) {
    return CounterError::kOverflow;
  }
  CounterComponent c = counter.ComponentOf(writer);
  if (by >= 0) {
    const uint64_t add = static_cast<uint64_t>(by);
    if (c.p > std::numeric_limits<uint64_t>::max() - add) return CounterError::kOverflow;
    c.p += add;
  } else {
    const uint64_t sub = static_cast<uint64_t>(-(by + 1)) + 1;
    if (c.n > std::numeric_limits<uint64_t>::max() - sub) return CounterError::kOverflow;
    c.n += sub;
  }
  c.version = std::max(c.version, version);
  counter.SetComponent(c);
  *result = current + by;
  return CounterError::kNone;
}

CounterError IncrementByFloat(Counter& counter, uint64_t writer, const Version& version,
                              long double by, std::string* result) {
  long double current = 0;
  if (!ParseRedisLongDouble(counter.Render(), &current)) return CounterError::kNotFloat;
  const long double next = current + by;
  if (std::isnan(next) || std::isinf(next)) return CounterError::kNanOrInfinity;
  CounterComponent c = counter.ComponentOf(writer);
  if (by >= 0) {
    c.pf += by;
  } else {
    c.nf += -by;
  }
  if (!std::isfinite(c.pf) || !std::isfinite(c.nf)) return CounterError::kNanOrInfinity;
  c.version = std::max(c.version, version);
  counter.SetComponent(c);
  *result = FormatLongDouble(next);
  return CounterError::kNone;
}

std::string_view CounterErrorText(CounterError e) {
  switch (e) {
    case CounterError::kNone:
      return "";
    case CounterError::kNotInteger:
      return "ERR value is not an integer or out of range";
    case CounterError::kOverflow:
      return "ERR increment or decrement would overflow";
    case CounterError::kNotFloat:
      return "ERR value is not a valid float";
    case CounterError::kNanOrInfinity:
      return "ERR increment would produce NaN or Infinity";
  }
  return "ERR";
}

}  // namespace shoal::typed
