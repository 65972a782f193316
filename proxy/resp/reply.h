#pragma once

// RESP2 reply encoding into a std::string (a reply slot). Header-only: these are
// called once or more per command on the hot path.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::proxy::resp {

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

inline void AppendBulk(std::string& out, std::string_view s) {
  AppendLength(out, '$', static_cast<int64_t>(s.size()));
  out.append(s);
  out += "\r\n";
}

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

}  // namespace shoal::proxy::resp
