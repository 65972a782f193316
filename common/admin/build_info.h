#pragma once

// What this binary is: Shoal's version and the git revision it was built from (the Makefile
// writes $(BUILD)/gen/shoal_revision.h; "unknown" when built outside a git checkout).

#include <string_view>

#include "common/metrics/registry.h"

namespace shoal {

std::string_view ShoalVersion();
std::string_view GitRevision();

// Declares shoal_build_info{version,revision} (a gauge of 1) in `registry`.
void AttachBuildInfo(metrics::Registry& registry);

}  // namespace shoal
