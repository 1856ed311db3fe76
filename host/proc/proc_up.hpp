// Process mode's `up` (ProcLauncher::up, proc_up.cpp): a formatted pool
// file, the doorbell server, one gmmd per node, each answering ping.
#pragma once

#include <string>

#include "launcher/launcher.hpp"

namespace gmm::host::proc {

// At most layout::kMaxNodes nodes.
Status check_options(const UpOptions& options);
// On failure it stops what it started and removes the files (through
// `launcher`, process mode's).
Result<Cluster> up(const UpOptions& options, const std::string& dir, const Launcher& launcher);

}  // namespace gmm::host::proc
