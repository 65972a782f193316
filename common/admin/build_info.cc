#include "common/admin/build_info.h"

#if __has_include("shoal_revision.h")
#include "shoal_revision.h"
#endif
#ifndef SHOAL_GIT_REVISION
#define SHOAL_GIT_REVISION "unknown"
#endif

namespace shoal {

std::string_view ShoalVersion() { return "0.1.0"; }
std::string_view GitRevision() { return SHOAL_GIT_REVISION; }

void AttachBuildInfo(metrics::Registry& registry) {
  static const int owner = 0;
  registry.AddCallback(
      metrics::Kind::kGauge, "shoal_build_info",
      "Always 1: the Shoal version and git revision this binary was built from.",
      {"version", "revision"},
      [](const metrics::Registry::Emit& emit) {
        emit({std::string(ShoalVersion()), std::string(GitRevision())}, 1);
      },
      &owner);
}

}  // namespace shoal
