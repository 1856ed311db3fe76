// VM mode's `up` (QemuLauncher::up, qemu_up.cpp): pool file (unformatted)
// -> ivshmem server -> QEMUs (gmm.gmmd=manual) -> every agent answers ->
// guest clocks set to the host's -> cross-VM atomic check on the
// unformatted pool -> format from the host -> gmmd-start in each guest ->
// every node's slot is Member. Progress lines go to stdout.
#pragma once

#include <string>

#include "launcher/launcher.hpp"

namespace gmm::host::qemu {

// At most 16 nodes, a power-of-two pool (a PCI BAR), an accelerator that works.
Status check_options(const UpOptions& options);
// On failure it brings down what it started (through `launcher`, VM mode's).
Result<Cluster> up(const UpOptions& options, const std::string& dir, Launcher& launcher);

}  // namespace gmm::host::qemu
