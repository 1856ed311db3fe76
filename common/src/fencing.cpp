#include "gmm/fencing.hpp"

#include "gmm/atomic.hpp"

namespace gmm {
using namespace layout;

namespace {

bool alive_state(NodeState state) { return state == NodeState::kMember || state == NodeState::kJoining; }

}  // namespace

bool watcher_running(const Pool& pool, std::uint64_t now_ns) {
  const std::uint64_t beat = load_acquire(pool.cluster().watcher_beat_ns);
  // A beat "from the future" is the skew of this node's clock: running.
  return beat != 0 && (now_ns < beat || now_ns - beat < kWatcherLeaseNs);
}

bool heartbeat_detection_on(const Pool& pool, std::uint64_t now_ns) {
  const std::uint32_t detectors = load_acquire(pool.cluster().detectors);
  return detectors == 0 || (detectors & kDetectHeartbeat) != 0 || !watcher_running(pool, now_ns);
}

bool fence_pending(const Pool& pool, std::uint32_t node, std::uint32_t incarnation, std::uint64_t now_ns) {
  if (node >= pool.node_count()) return false;
  if ((load_acquire(pool.cluster().detectors) & kDetectHost) == 0) return false;
  const NodeSlot& slot = pool.node_slot(node);
  return load_state<NodeState>(slot.state) == NodeState::kFailed && load_acquire(slot.incarnation) == incarnation &&
         load_acquire(slot.fenced) < incarnation && watcher_running(pool, now_ns);
}

std::uint32_t live_notice(const Pool& pool, std::uint32_t node) {
  const NodeSlot& slot = pool.node_slot(node);
  const std::uint32_t notice = load_acquire(slot.host_notice);
  if (notice == 0 || !alive_state(load_state<NodeState>(slot.state))) return 0;
  return load_acquire(slot.incarnation) == notice ? notice : 0;
}

void watcher_beat(const Pool& pool, std::uint64_t now_ns, std::uint64_t pid) {
  ClusterHeader& c = pool.cluster();
  if (load_relaxed(c.watcher_pid) != pid) store_release(c.watcher_pid, pid);
  store_release(c.watcher_beat_ns, now_ns);
}

void watcher_stopped(const Pool& pool) {
  ClusterHeader& c = pool.cluster();
  store_release(c.watcher_beat_ns, std::uint64_t{0});
  store_release(c.watcher_pid, std::uint64_t{0});
}

void post_notice(const Pool& pool, std::uint32_t node, std::uint32_t incarnation) {
  store_release(pool.node_slot(node).host_notice, incarnation);
}

void mark_fenced(const Pool& pool, std::uint32_t node, std::uint32_t incarnation, FenceOutcome outcome,
                 std::uint64_t now_ns) {
  // The record first, then the word recovery waits for (publish last).
  const std::uint64_t events = load_acquire(pool.cluster().events);
  for (std::uint64_t seq = events; seq > 0 && events - seq < kRecoveryRecords; --seq) {
    RecoveryRecord& r = pool.recovery(seq);
    if (load_acquire(r.sequence) != seq || static_cast<EventKind>(r.kind) != EventKind::kNodeFailed ||
        r.node != node || r.incarnation != incarnation)
      continue;
    store_release(r.fenced_ns, now_ns);
    store_release(r.fence, static_cast<std::uint32_t>(outcome));
    break;
  }
  NodeSlot& slot = pool.node_slot(node);
  if (load_acquire(slot.fenced) < incarnation) store_release(slot.fenced, incarnation);
}

}  // namespace gmm
