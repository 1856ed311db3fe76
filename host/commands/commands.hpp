// gmm-host's subcommands, each returning the process exit status. main.cpp
// only parses arguments into these calls. Every command that touches a
// node acts through the launcher of the recorded cluster's mode
// (launchers.hpp); what it reads or declares in the pool is the same in
// every mode.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster.hpp"
#include "launcher/launcher.hpp"

namespace gmm::host {

int command_up(const UpOptions& options);
int command_down(const std::string& dir);
int command_status(const std::string& dir, bool json);
// The host watcher in the foreground (`up` starts it detached) until
// SIGTERM or SIGINT.
int command_watcher(const std::string& dir);
// Process mode: does not return on success, becomes `argv` (exit status is
// argv's). VM mode: runs argv in the guest through its agent.
int command_exec(const std::string& dir, std::uint32_t node, const std::vector<std::string>& argv);
// `pool`: check this file instead of DIR's cluster's pool.
int command_fsck(const std::string& dir, const std::optional<std::string>& pool, bool json);

// Faults and planned changes. Each waits (at most `timeout`) until the
// cluster has reacted, and says so in one line; timeouts are errors.
//   crash:       kill or pause the node, record the injection time; with
//                `wait`, also wait until it is declared failed and recovered
//   resume:      continue a paused node; wait until it is a member again
//   restart:     start a node that is not running; wait until it is a member
//   leave:       planned removal; wait until it has left and all are done
//   lose-memory: declare its memory lost and overwrite it; wait until the
//                tables are recovered
int command_crash(const std::string& dir, std::uint32_t node, CrashHow how, bool wait, std::chrono::seconds timeout);
int command_resume(const std::string& dir, std::uint32_t node, std::chrono::seconds timeout);
int command_restart(const std::string& dir, std::uint32_t node, const std::string& crash_at,
                    std::chrono::seconds timeout);
int command_leave(const std::string& dir, std::uint32_t node, std::chrono::seconds timeout);
int command_lose_memory(const std::string& dir, std::uint32_t node, std::chrono::seconds timeout);
// Every crash point, name and description, one per line (or a JSON array).
int command_points(bool json);
// VM mode: the shell on NODE's console port, interactive (a terminal;
// Ctrl-] detaches) or, with `batch`, stdin run as a script (console.cpp).
int command_console(const std::string& dir, std::uint32_t node, bool batch, std::chrono::seconds timeout);

}  // namespace gmm::host
