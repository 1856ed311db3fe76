// `gmm-host fsck`: the core's pool checker run from the host on the pool
// file the nodes map.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "gmm/check.hpp"
#include "gmm/result.hpp"

namespace gmm::host {

// Maps and attaches the pool read-write (the checker takes the pool's locks
// as the checker owner) and checks it. Errors: the pool cannot be mapped or
// attached (kIo, kBadPool).
Result<CheckReport> check_pool_file(const std::string& path);

nlohmann::json check_report_json(const std::string& pool_path, const CheckReport& report);
// A summary line, then one line per violation.
std::string check_report_text(const std::string& pool_path, const CheckReport& report);

}  // namespace gmm::host
