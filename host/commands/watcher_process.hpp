// The watcher's process (watcher/watcher.hpp) as the other commands see
// it: `up` starts it, `down` stops it, `status` asks whether it runs.
#pragma once

#include "cluster/cluster.hpp"
#include "gmm/result.hpp"

namespace gmm::host {

// Writes the detector into the pool (ClusterHeader::detectors) and, if it
// uses the watcher, starts `gmm-host --dir DIR watcher` detached (log
// DIR/watcher.log) and returns once it watches; records both in `cluster`
// (saved before the watcher starts, which reads it; the pid is not). Errors: the watcher exited or was not ready in 10 s (its log).
Status start_watcher(Cluster& cluster, Detector detector);
// SIGTERM (it clears its beat: the heartbeat takes over at once), then
// SIGKILL. Errors: it survived SIGKILL.
Status stop_watcher(const Cluster& cluster);
bool watcher_alive(const Cluster& cluster);

}  // namespace gmm::host
