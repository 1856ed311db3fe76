// The host watcher: gmm-host's management plane for failure detection and
// fencing (paper: the MCS recovery framework signals failures; here the
// host does). `gmm-host up` starts it as its own process (`gmm-host
// watcher`, log DIR/watcher.log, pid in the cluster record); `down` stops
// it; `status` says whether it runs. docs/design.md, "The host watcher".
//
// Every tick (1 ms) it beats in the pool (ClusterHeader::watcher_beat_ns:
// while the beat is fresh the nodes wait for its fences and, with
// --detector host, leave detection to it), notes which incarnation each
// node's live process runs, fences every node declared failed and stamps
// the host's time on new failure records. Between ticks it sleeps in
// epoll on the launcher's liveness stream (pidfds; in VM mode the QMP
// event monitors) and on the cluster record (a `restart` brings a new
// process to watch).
//
//   a node's process exits, or its guest panics or shuts down
//     -> notice (node, incarnation) in its slot, ring the other nodes;
//        a survivor declares it through the membership lock (gmm/fencing.hpp)
//   a node is declared failed (by anyone) and its process still runs
//     -> SIGKILL it (and, process mode, the node's client programs),
//        wait until gone, store `fenced`, ring the nodes: recovery may start
//
// The incarnation a notice names is one the watcher saw live while that
// very process ran, so a late notice never expels a restarted node.
#pragma once

#include <atomic>
#include <ostream>
#include <string>

#include "cluster/cluster.hpp"
#include "gmm/result.hpp"
#include "launcher/launcher.hpp"

namespace gmm::host {

// The watcher's own crash points, for tests: GMM_WATCHER_CRASH_AT names one
// and the watcher SIGKILLs itself there.
//   notice.posted  a notice is in the pool, nobody rung yet
//   fence.killed   the node's processes are gone, `fenced` not yet stored
inline constexpr const char* kWatcherCrashEnv = "GMM_WATCHER_CRASH_AT";

// Watches `cluster` (recorded in its dir) through `launcher` until `stop`
// is set (SIGTERM), then clears its beat so the nodes fall back to the
// heartbeat at once. Writes what it does to `log`, one line each; the line
// "watching ..." says it is ready. Errors: the pool or the liveness stream
// cannot be opened.
Status run_watcher(const Cluster& cluster, Launcher& launcher, const std::atomic<bool>& stop, std::ostream& log);

}  // namespace gmm::host
