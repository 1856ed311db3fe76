// VM mode, one node: its QEMU (is it still running, starting it), the
// channels into it (QMP, the guest agent) and the guest's clock. What
// QemuLauncher's up and its node verbs share.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent_client/agent_client.hpp"
#include "cluster/cluster.hpp"
#include "launcher/process_handle.hpp"
#include "vm/qmp.hpp"

namespace gmm::host::qemu {

inline constexpr const char* kGuestSocket = "/run/gmmd.sock";  // gmmd's socket inside every guest
inline constexpr std::uint32_t kMemoryMb = 256;
inline constexpr auto kQmpTimeout = std::chrono::seconds(5);
inline constexpr auto kKillTimeout = std::chrono::seconds(10);

std::string node_name(std::uint32_t node);  // "node 2"

// The recorded pid is still a QEMU (not a zombie, not a recycled pid).
bool qemu_alive(const NodeRecord& node);
// The node's QEMU held by a pidfd; nullopt when it is not running.
Result<std::optional<ProcessHandle>> open_qemu(const NodeRecord& node);
// "node 2: QEMU (pid 42) is not running; last lines of" its QEMU log and console log.
std::string qemu_failure(const NodeRecord& node);

// Starts the node's QEMU detached. `manual_gmmd`: the image does not start
// gmmd at boot (the host starts it once the pool is checked and formatted
// and the guest's clock set). `crash_at` goes to gmmd (gmm.gmmd-args).
Result<std::int64_t> spawn_qemu(const Cluster& cluster, const NodeRecord& node, bool manual_gmmd,
                                const std::string& crash_at);

// Errors name the node; QMP first checks that QEMU still runs.
Result<vm::QmpClient> qmp_connect(const NodeRecord& node);
Result<AgentClient> agent_connect(const NodeRecord& node, std::chrono::milliseconds timeout);
// GMM_SOCKET and GMM_NODE for a command run in the node's guest.
AgentClient::RunOptions node_env(const NodeRecord& node);

// Waits until every node's agent answers (agents[node] connected); fails
// early when a QEMU exits.
Status wait_agents(const Cluster& cluster, std::vector<std::optional<AgentClient>>& agents,
                   std::chrono::steady_clock::time_point deadline);
// Sets each guest's CLOCK_REALTIME to the host's, before gmmd starts.
Status sync_clocks(std::vector<AgentClient*> agents);
// `gmmd-start` in the node's guest. Errors: it did not start.
Status start_gmmd(AgentClient& agent, const NodeRecord& node);

}  // namespace gmm::host::qemu
