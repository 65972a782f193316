#pragma once

// RESP reply encoding into a std::string (a reply slot). Header-only: these are called once or
// more per command on the hot path.
//
// Two layers:
// - The free functions (AppendInteger, AppendBulk, ...) write types that are the same in RESP2 and
//   RESP3 (integers, bulk and simple strings, arrays, errors), plus RESP2's nulls.
// - `Writer` writes a reply in the protocol a client chose with HELLO (ReplySlot::protocol):
//   nulls, maps, sets, doubles, booleans, big numbers and verbatim strings take their RESP3 form
//   for a RESP3 client and Redis's RESP2 fallback otherwise, as Redis's addReply* functions do
//   (networking.c). Commands write their replies through a Writer whenever the type differs:
//     HGETALL            w.Map(fields);  then field, value, field, value ... (Bulk)
//     SMEMBERS, SINTER   w.Set(members); then each member (Bulk)
//     INCRBYFLOAT        w.Bulk(text)    a bulk string in both protocols, as Redis sends it
//     GET of no key      w.Null()        ("$-1" / "_")
//     ZSCORE (later)     w.Double(d)     (RESP2: a bulk string, "%.17g" as Redis 7.0)
//   A map's length is its number of pairs (RESP2 writes an array of twice as many elements).
//
// Thread: whatever thread owns `out`.

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace shoal::proxy::resp {

// The reply protocol of a client (HELLO 2 / HELLO 3). Every connection starts at kResp2.
enum class Protocol : uint8_t { kResp2 = 2, kResp3 = 3 };

inline void AppendInteger(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out += ':';
  out.append(buf, r.ptr);
  out += "\r\n";
}

inline void AppendLength(std::string& out, char type, int64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), n);
  out += type;
  out.append(buf, r.ptr);
  out += "\r\n";
}

// Room for a bulk string of `payload` bytes and its framing (type, up to 20 digits, two CRLFs),
// made once: appended piece by piece, a value would grow the string twice (the trailing CRLF
// past the capacity the value's append chose doubles it), so a reply of a 32 KB value held 64 KB.
inline void ReserveFramed(std::string& out, size_t payload) {
  constexpr size_t kFraming = 1 + 20 + 2 + 2;
  if (out.capacity() - out.size() < payload + kFraming)
    out.reserve(out.size() + payload + kFraming);
}

inline void AppendBulk(std::string& out, std::string_view s) {
  ReserveFramed(out, s.size());
  AppendLength(out, '$', static_cast<int64_t>(s.size()));
  out.append(s);
  out += "\r\n";
}

// RESP2 nulls (a RESP3 client gets Writer::Null's "_").
inline void AppendNull(std::string& out) { out += "$-1\r\n"; }
inline void AppendNullArray(std::string& out) { out += "*-1\r\n"; }
inline void AppendArray(std::string& out, int64_t n) { AppendLength(out, '*', n); }
inline void AppendOk(std::string& out) { out += "+OK\r\n"; }

inline void AppendSimple(std::string& out, std::string_view s) {
  out += '+';
  out.append(s);
  out += "\r\n";
}

// `msg` is the whole error line without the leading '-', e.g. "ERR syntax error" or
// "NOAUTH Authentication required.". CR and LF in it are replaced by spaces (as Redis does).
inline void AppendError(std::string& out, std::string_view msg) {
  out += '-';
  const size_t start = out.size();
  out.append(msg);
  for (size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
  out += "\r\n";
}

inline std::string Error(std::string_view msg) {
  std::string s;
  AppendError(s, msg);
  return s;
}

// Redis 7.0's text of a double reply ("%.17g"; "inf" / "-inf" spelled out, as addReplyDouble).
inline std::string DoubleText(double d) {
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const int n = std::snprintf(buf, sizeof(buf), "%.17g", d);
  return std::string(buf, static_cast<size_t>(n));
}

class Writer {
 public:
  Writer(std::string& out, Protocol protocol) : out_(out), protocol_(protocol) {}

  Protocol protocol() const { return protocol_; }
  bool resp3() const { return protocol_ == Protocol::kResp3; }
  std::string& out() { return out_; }

  // Types that are the same in both protocols.
  void Integer(int64_t v) { AppendInteger(out_, v); }
  void Bulk(std::string_view s) { AppendBulk(out_, s); }
  void Simple(std::string_view s) { AppendSimple(out_, s); }
  void Ok() { AppendOk(out_); }
  void Error(std::string_view msg) { AppendError(out_, msg); }
  void Array(int64_t n) { AppendArray(out_, n); }

  // A missing value (GET of no key): "$-1" / "_".
  void Null() { out_ += resp3() ? "_\r\n" : "$-1\r\n"; }
  // A missing aggregate (Redis's addReplyNullArray): "*-1" / "_".
  void NullArray() { out_ += resp3() ? "_\r\n" : "*-1\r\n"; }
  // `pairs` key/value pairs follow: "%pairs" / an array of 2 * pairs elements.
  void Map(int64_t pairs) {
    if (resp3()) {
      AppendLength(out_, '%', pairs);
    } else {
      AppendArray(out_, pairs * 2);
    }
  }
  // `n` elements follow: "~n" / "*n".
  void Set(int64_t n) { AppendLength(out_, resp3() ? '~' : '*', n); }
  // ",1.5" / a bulk string "1.5".
  void Double(double d) {
    const std::string text = DoubleText(d);
    if (resp3()) {
      out_ += ',';
      out_ += text;
      out_ += "\r\n";
    } else {
      AppendBulk(out_, text);
    }
  }
  // "#t" / ":1".
  void Bool(bool b) {
    if (resp3()) {
      out_ += b ? "#t\r\n" : "#f\r\n";
    } else {
      AppendInteger(out_, b ? 1 : 0);
    }
  }
  // An integer of any size given as its decimal digits (optional '-'): "(digits" / a bulk string.
  void BigNumber(std::string_view digits) {
    if (resp3()) {
      out_ += '(';
      out_.append(digits);
      out_ += "\r\n";
    } else {
      AppendBulk(out_, digits);
    }
  }
  // Text meant for humans (INFO, CLIENT INFO): "=len\r\ntxt:..." / a bulk string. `format` is
  // three characters ("txt", "mkd").
  void Verbatim(std::string_view text, std::string_view format = "txt") {
    if (!resp3()) return AppendBulk(out_, text);
    ReserveFramed(out_, text.size() + 4);
    AppendLength(out_, '=', static_cast<int64_t>(text.size() + 4));
    for (size_t i = 0; i < 3; ++i) out_ += i < format.size() ? format[i] : ' ';
    out_ += ':';
    out_.append(text);
    out_ += "\r\n";
  }

 private:
  std::string& out_;
  const Protocol protocol_;
};

}  // namespace shoal::proxy::resp
