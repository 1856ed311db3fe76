// Crash specs as gmm-host takes them (`up --crash-at NODE=POINT[:N]`,
// `restart --crash-at POINT[:N]`, scenario files) and records them per node:
// gmmd is started with `--crash-at POINT[:N]` and dies the N-th time it
// reaches POINT (gmm/crash.hpp lists the points).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "gmm/result.hpp"

namespace gmm::host {

// "POINT[:N]" names a crash point and a positive count. Errors name the
// unknown point.
Status check_crash_spec(std::string_view spec);
// "NODE=POINT[:N]" (up --crash-at).
Result<std::pair<std::uint32_t, std::string>> parse_node_crash_spec(std::string_view text);

}  // namespace gmm::host
