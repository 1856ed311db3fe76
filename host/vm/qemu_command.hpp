// The qemu-system-x86_64 command line of node K in VM mode: a pure function
// of the settings, so every flag is unit-tested and the orchestrator, the
// checks and a human (`--dry-run`) see the same line.
//
// What each part is for:
//   -accel tcg,thread=multi -smp 2  MTTCG: guest atomics become host atomics;
//                                   with 1 vCPU (or thread=single) cross-VM
//                                   atomics on the pool break (platform facts)
//   -kernel vmlinux -initrd ...     the image of guest/image (PVH boot)
//   -append ...                     console=ttyS0, gmm.node=K, gmm.init/args
//   -serial file:DIR/nodeK.console.log
//   -qmp unix:DIR/nodeK.qmp         QMP: stop/cont/quit, events
//   -mon on DIR/nodeK.events        a second QMP monitor, for a liveness
//                                   watcher alone (QEMU serves one client
//                                   per monitor; events go to every one)
//   virtconsole on DIR/nodeK.ctl    the control channel (/dev/hvc0 in the guest)
//   virtconsole on DIR/nodeK.shell  a second console port with a shell on it
//                                   (`gmm-host console`); /dev/hvc1 here, hvc0
//                                   when the control channel is a virtserialport
//   -device pvpanic-pci -action panic=pause
//                                   a guest panic stops the VM and shows as
//                                   GUEST_PANICKED; the host decides what next
//   ivshmem-doorbell on DIR/nodeK.ivshmem
//                                   the pool (BAR2) and doorbells, from the
//                                   ivshmem server's fixed listener for node K
//   -virtfs ... mount_tag=gmmshare  the build dir, read-only, at /gmm
//   -no-reboot -nodefaults -display none -nic none
//                                   a guest that reboots or powers off ends its
//                                   QEMU; no VGA, no NIC, no default devices
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "accel.hpp"
#include "gmm/result.hpp"

namespace gmm::host::vm {

struct VmSettings {
  std::string qemu = "qemu-system-x86_64";
  Accel accel = Accel::kTcg;
  std::uint32_t smp = 2;  // >= 2 under TCG (enforced unless the next is set)
  bool unsafe_one_vcpu = false;  // only to show that the atomic check catches it
  std::uint32_t memory_mb = 256;
  std::string kernel;     // build/image/vmlinux
  std::string initrd;     // build/image/initramfs.cpio.gz
  std::string share_dir;  // 9p share `gmmshare` (the build dir); "" = none
  std::string dir;        // the cluster dir: per-node files (node_files)
  std::uint32_t vectors = 2;  // must equal the ivshmem server's
  std::string init;       // gmm.init= ("" = the guest's shell on /dev/hvc0)
  std::vector<std::string> init_args;                        // gmm.args=a,b,c
  std::vector<std::pair<std::string, std::string>> options;  // more gmm.KEY=VALUE
  bool quiet = true;           // kernel `quiet` (only warnings on the console)
  std::string extra_append;    // appended verbatim, e.g. "initcall_debug"
};

// DIR/nodeK.* : the files and sockets of one node.
struct NodeFiles {
  std::string console_log;  // the guest's serial console (ttyS0)
  std::string qemu_log;     // QEMU's own stdout/stderr (the spawner writes it)
  std::string qmp;          // QMP socket (QEMU listens)
  std::string events;       // a second QMP monitor, for watching events (QEMU listens)
  std::string ctl;          // virtio-serial control channel socket (QEMU listens)
  std::string ivshmem;      // the ivshmem server's listener for this node (server listens)
  std::string shell;        // the guest's console shell (QEMU listens; gmm-host console)
};
NodeFiles node_files(const std::string& dir, std::uint32_t node);

// argv for node `node` (argv[0] = settings.qemu). Errors (kInvalidArgument):
// TCG with fewer than 2 vCPUs; missing kernel/initrd/dir; a path with a comma
// (QEMU's option separator) or a socket path too long for sun_path; a gmm
// option value with whitespace or a gmm.args word with a comma.
Result<std::vector<std::string>> qemu_argv(const VmSettings& settings, std::uint32_t node);

// The kernel command line alone (part of qemu_argv, tested on its own).
Result<std::string> kernel_append(const VmSettings& settings, std::uint32_t node);

// argv as a shell line (single quotes where needed), for logs and --dry-run.
std::string shell_line(const std::vector<std::string>& argv);

}  // namespace gmm::host::vm
