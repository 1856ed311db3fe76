// The cluster's ivshmem doorbell server, gmm-ivshmem-server, in both modes:
// node K's VM (its ivshmem-doorbell device, VM mode) or node K's gmmd
// (`--doorbell`, process mode) connects on DIR/nodeK.ivshmem and gets peer id
// K; the nodes then ring each other through the eventfds it hands out. One
// messaging path for both modes (docs/design.md, "Messages and doorbells").
// It runs as its own process because gmm-host exits after `up`; its pid and
// log are recorded in Cluster::vm (server_pid, server_log, ivshmem_server).
#pragma once

#include <cstdint>
#include <string>

#include "cluster/cluster.hpp"

namespace gmm::host {

// The server's peer id for the host itself (layout::kMaxNodes, outside the
// node ids; guests can ring it, see host/vm/README.md).
inline constexpr std::uint32_t kDoorbellHostPeer = 64;

// The host watcher's peer id (watcher/watcher.hpp): it rings the nodes
// after a notice or a fence. After the host peer, outside the node ids.
inline constexpr std::uint32_t kDoorbellWatcherPeer = 65;

// DIR/nodeK.ivshmem: where node K connects.
std::string doorbell_socket(const Cluster& cluster, std::uint32_t node);
// DIR/watcher.ivshmem: where the watcher connects (peer kDoorbellWatcherPeer).
std::string watcher_doorbell_socket(const Cluster& cluster);

// How large the pool may be: a power of two where VMs map it as a PCI BAR,
// any size where no VM maps it (process mode).
enum class PoolSizes { kPowerOfTwo, kAny };

// Starts the server over the pool file with --retain-peers, records its pid
// and returns once it serves. Errors: it exited (its log's tail) or was not
// ready in 10 s.
Status start_doorbell_server(Cluster& cluster, PoolSizes sizes);
bool doorbell_server_alive(const Cluster& cluster);
// SIGTERM, then SIGKILL. Errors: it survived SIGKILL.
Status stop_doorbell_server(const Cluster& cluster);

}  // namespace gmm::host
