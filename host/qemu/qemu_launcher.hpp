// VM mode: every node is a QEMU VM booted from guest/image, its gmmd mapping
// the pool through the ivshmem BAR2 (gmmd --uio auto). The pool is a file on
// the host that the ivshmem doorbell server (gmm-ivshmem-server, peer id ==
// node id through DIR/nodeK.ivshmem) hands to every VM; gmm-host maps the
// same file, so status, fsck and the fault commands read the live pool.
// Commands reach a guest through its gmm-agent (virtio-serial port
// org.gmm.agent, DIR/nodeK.ctl); QEMU is driven through QMP (DIR/nodeK.qmp).
//
//   kill, fence     SIGKILL of the node's QEMU (by pidfd), paused or not
//   pause, resume   QMP stop, cont
//   panic           sysrq-c through the agent; QEMU reports GUEST_PANICKED
//                   (pvpanic, -action panic=pause: the VM stays paused)
//   nmi             QMP inject-nmi
//   start           kills the old QEMU, boots the node, sets its clock,
//                   starts gmmd (which rejoins)
//   stop            QMP quit, SIGKILL after 5 s
//   exec            the command in the guest through the agent (no shell,
//                   PATH lookup, GMM_SOCKET=/run/gmmd.sock), killed after 120 s
//   console         the guest's second console port (DIR/nodeK.shell),
//                   one attachment at a time (DIR/nodeK.shell.lock)
//   watch           a pidfd per QEMU and its second QMP monitor
//                   (DIR/nodeK.events): stopped, resumed, panicked,
//                   shutdown, exited; one watcher per node at a time (QEMU
//                   serves one client per monitor)
#pragma once

#include <memory>

#include "launcher/launcher.hpp"

namespace gmm::host {

std::unique_ptr<Launcher> make_qemu_launcher();

}  // namespace gmm::host
