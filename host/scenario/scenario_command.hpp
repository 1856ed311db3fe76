// `gmm-host scenario FILE`: runs it, writes the JSON and JUnit reports,
// returns 0 only if every step passed.
#pragma once

#include <string>

namespace gmm::host {

int command_scenario(const std::string& dir, const std::string& file, const std::string& mode,
                     const std::string& report_path, const std::string& junit_path);

}  // namespace gmm::host
