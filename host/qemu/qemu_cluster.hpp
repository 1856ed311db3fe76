// VM mode: every node is a QEMU VM booted from guest/image, its gmmd mapping
// the pool through the ivshmem BAR2 (gmmd --uio auto). The pool is a file on
// the host that the ivshmem doorbell server (gmm-ivshmem-server, peer id ==
// node id through DIR/nodeK.ivshmem) hands to every VM; gmm-host maps the
// same file, so status, fsck and the fault commands read the live pool.
// Commands reach a guest through its gmm-agent (virtio-serial port
// org.gmm.agent, DIR/nodeK.ctl); stop/cont/quit through QMP (DIR/nodeK.qmp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster.hpp"

namespace gmm::host::vm {

// Boots the cluster: pool file (power-of-two size) -> ivshmem server ->
// QEMUs (gmm.gmmd=manual) -> every agent answers -> guest clocks set to the
// host's -> cross-VM atomic check on
// the still unformatted pool -> format from the host -> gmmd-start in each
// guest -> every node's slot is Member. Progress lines go to stdout.
Result<Cluster> up(const UpOptions& options);
NodeHealth node_health(const Cluster& cluster, std::uint32_t node);
// QMP quit (SIGKILL if that fails), the ivshmem server, pool, sockets, record.
Status down(const Cluster& cluster);
// kill: SIGKILL QEMU; pause: QMP stop; panic: sysrq-c through the agent,
// returns once QEMU reports GUEST_PANICKED (its time into *event_ns).
Status crash_node(const Cluster& cluster, std::uint32_t node, CrashHow how, std::uint64_t* event_ns);
Status resume_node(const Cluster& cluster, std::uint32_t node);  // QMP cont
// Kills the node's QEMU if it still runs, boots it again, sets the guest
// clock, starts gmmd (which rejoins; the caller waits for that). crash_at
// goes to gmmd through gmm.gmmd-args.
Status start_node(Cluster& cluster, std::uint32_t node, const std::string& crash_at);
std::optional<std::string> node_exited(const Cluster& cluster, std::uint32_t node);
// `gmm-host exec` in VM mode: runs argv in the guest through its agent with
// GMM_SOCKET=/run/gmmd.sock; prints its output; returns its exit status.
int exec(const Cluster& cluster, std::uint32_t node, const std::vector<std::string>& argv);

}  // namespace gmm::host::vm
