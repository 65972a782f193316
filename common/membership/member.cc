#include "common/membership/member.h"

#include <tuple>

#include "common/config/options.h"

namespace shoal {

const char* MemberStateName(MemberState state) {
  switch (state) {
    case MemberState::kJoining:
      return "JOINING";
    case MemberState::kNormal:
      return "NORMAL";
    case MemberState::kLeaving:
      return "LEAVING";
    case MemberState::kDown:
      return "DOWN";
    case MemberState::kRemoved:
      return "REMOVED";
  }
  return "UNKNOWN";
}

bool Supersedes(const MemberRecord& a, const MemberRecord& b) {
  if (a.version() != b.version()) return a.version() > b.version();
  return std::tie(a.address, a.zone, a.tokens, a.id) > std::tie(b.address, b.zone, b.tokens, b.id);
}

std::string InvalidRecordReason(const MemberRecord& r) {
  if (r.id.empty()) return "member with an empty id";
  if (!ParseHostPort(r.address).ok())
    return "member '" + r.id + "': bad address '" + r.address + "'";
  if (r.state == MemberState::kDown || static_cast<int>(r.state) > 4) {
    return "member '" + r.id + "': state " + std::to_string(static_cast<int>(r.state)) +
           " cannot be gossiped";
  }
  if (r.tokens == 0) return "member '" + r.id + "': no tokens";
  return "";
}

}  // namespace shoal
