// Process mode: every node is a gmmd process on this host, all mapping the
// same pool file under /dev/shm.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster.hpp"

namespace gmm::host::proc {

Result<Cluster> up(const UpOptions& options);
NodeHealth node_health(const Cluster& cluster, std::uint32_t node);
Status down(const Cluster& cluster);
// SIGKILL or SIGSTOP the node's gmmd; returns once it is gone or stopped.
Status crash_node(const Cluster& cluster, std::uint32_t node, CrashHow how);
Status resume_node(const Cluster& cluster, std::uint32_t node);  // SIGCONT
Status start_node(Cluster& cluster, std::uint32_t node, const std::string& crash_at);
std::optional<std::string> node_exited(const Cluster& cluster, std::uint32_t node);

}  // namespace gmm::host::proc
