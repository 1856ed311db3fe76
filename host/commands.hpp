// gmm-host's subcommands, each returning the process exit status. main.cpp
// only parses arguments into these calls.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cluster.hpp"

namespace gmm::host {

int command_up(const UpOptions& options);
int command_down(const std::string& dir);
int command_status(const std::string& dir, bool json);
// Does not return on success: becomes `argv` (exit status is argv's).
int command_exec(const std::string& dir, std::uint32_t node, const std::vector<std::string>& argv);
// `pool`: check this file instead of DIR's cluster's pool.
int command_fsck(const std::string& dir, const std::optional<std::string>& pool, bool json);

}  // namespace gmm::host
