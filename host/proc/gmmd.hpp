// Process mode, one node: its gmmd process (is it still the one we
// started, running or stopped?), starting it and pinging it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster.hpp"
#include "launcher/process_handle.hpp"

namespace gmm::host::proc {

inline constexpr auto kStopGrace = std::chrono::seconds(5);  // SIGTERM, then SIGKILL

enum class ProcessState { kGone, kRunning, kStopped };

// Is the recorded pid still the gmmd serving this node's socket? A zombie
// counts as gone (an init that never reaps must not keep it "alive"), and so
// does a recycled pid running something else.
ProcessState gmmd_state(const NodeRecord& node);
inline bool gmmd_alive(const NodeRecord& node) { return gmmd_state(node) != ProcessState::kGone; }
// The node's gmmd held by a pidfd; nullopt when it is not running.
Result<std::optional<ProcessHandle>> open_gmmd(const NodeRecord& node);

// gmmd answers ping on the node's socket, as that node.
Status ping(const NodeRecord& node);

// Starts the node's gmmd detached (own session, output to its log).
// `append_log`: a restart keeps what the node's previous gmmd wrote.
Result<std::int64_t> spawn_gmmd(const Cluster& cluster, const NodeRecord& node, bool append_log);

// The programs run for the node (`gmm-host exec NODE`, and what they
// started): processes whose environment names this cluster
// (GMM_CLUSTER_DIR) and node (GMM_NODE), other than gmmd and gmm-host
// themselves and the caller. They may map pool sections writable.
std::vector<std::int64_t> node_client_pids(const Cluster& cluster, std::uint32_t node);

// Reaps `pid` if it is our child and has exited; its exit status, or
// nullopt while it runs (or when it is not our child).
std::optional<int> exited_child(std::int64_t pid);

}  // namespace gmm::host::proc
