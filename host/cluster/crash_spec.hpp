// Crash specs as gmm-host takes them (`up --crash-at NODE=POINT[:N][:ACTION]`,
// `restart --crash-at POINT[:N][:ACTION]`, scenario files) and records them
// per node: gmmd is started with `--crash-at` and fails (kill, stop or hang)
// the N-th time it reaches POINT (gmm/crash.hpp lists points and actions).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "gmm/result.hpp"

namespace gmm::host {

// "POINT[:N][:ACTION]" (gmm::parse_crash_spec). Errors name what is wrong.
Status check_crash_spec(std::string_view spec);
// "NODE=POINT[:N][:ACTION]" (up --crash-at).
Result<std::pair<std::uint32_t, std::string>> parse_node_crash_spec(std::string_view text);

}  // namespace gmm::host
