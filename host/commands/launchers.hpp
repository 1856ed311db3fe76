// The one place that knows every backend: which launcher runs a cluster of
// a given mode, and starting a cluster (which may first have to clear away
// the dead one of another mode recorded in the same directory).
#pragma once

#include <memory>

#include "cluster/cluster.hpp"
#include "launcher/launcher.hpp"

namespace gmm::host {

// The launcher of `mode`: the record's mode for every command after `up`.
std::unique_ptr<Launcher> make_launcher(Mode mode);

// `gmm-host up`: checks the options (theirs and the backend's), creates
// DIR, refuses if a live cluster is recorded there (whatever its mode) and
// removes a dead one, then starts the cluster through options.mode's launcher.
Result<Cluster> start_cluster(const UpOptions& options);

}  // namespace gmm::host
