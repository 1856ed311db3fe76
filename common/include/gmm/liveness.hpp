// How a node looks alive to the others, and how they tell when it stopped.
//
// A node shows two counters in its NodeSlot (layout.hpp): `heartbeat` (its
// OS runs: beaten by the guest kernel's timer where there is one, else by
// the node's liveness thread) and `progress` (its daemon is not wedged).
// Whoever has to wait on a node, a ring watcher or a waiter for a lock the
// node holds, samples both; a node whose heartbeat has stood still for the
// detection threshold (heartbeat period x miss threshold, from the pool),
// or whose progress alone has stood still for the longer progress
// threshold, is stalled, and is declared failed through the membership
// path (records.hpp), never by quietly taking what it holds.
//
// Silence is counted only over time the watcher itself was running: an
// observation that comes long after the previous one (the watcher was
// descheduled, its VM starved) adds at most two heartbeat periods, so a
// watcher never blames another node for its own gap.
//
// Only reads of the pool here: no locks, no waiting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gmm/layout.hpp"
#include "gmm/pool.hpp"

namespace gmm {

// heartbeat period x miss threshold, in ns (the pool's settings): how long
// a heartbeat may stand still.
std::uint64_t detection_threshold_ns(const Pool& pool);

// How long `progress` may stand still while the heartbeat moves: twice the
// detection threshold. A node whose OS beats but whose daemon makes no
// progress is wedged (WedgeWatch), stopped (SIGSTOP of gmmd alone) or only
// slow (its user space starved by load in a guest whose kernel beats);
// the longer threshold tells the last from the others.
inline constexpr std::uint64_t kProgressThresholdFactor = 2;
std::uint64_t progress_threshold_ns(const Pool& pool);

// The most one observation adds to a counter's silence: two heartbeat periods.
std::uint64_t max_watch_step_ns(const Pool& pool);

struct LivenessSample {
  layout::NodeState state = layout::NodeState::kAbsent;
  std::uint32_t incarnation = 0;
  std::uint64_t heartbeat = 0;
  std::uint64_t progress = 0;
  std::uint64_t heartbeat_ns = 0;  // CLOCK_REALTIME of the last beat
};
LivenessSample sample_liveness(const Pool& pool, std::uint32_t node);

// Evidence that (node, incarnation) stopped: the counter(s) that stood
// still, at the values they stood at.
struct Stall {
  std::uint32_t node = layout::kNoNode;
  std::uint32_t incarnation = 0;
  std::uint64_t heartbeat = 0;
  std::uint64_t progress = 0;
  bool heartbeat_stopped = false;  // the OS stopped running the node
  bool progress_stopped = false;   // the daemon is wedged (heartbeat may still move)
  std::uint64_t last_beat_ns = 0;
  std::uint64_t still_for_ns = 0;  // how long the watcher, while running, saw it stand still

  // True if the slot still shows this evidence (same incarnation, alive by
  // state, and the stopped counter still at the value seen).
  bool still_holds(const LivenessSample& now) const;
  std::string describe() const;  // "node 2 (incarnation 3): no heartbeat for 310 ms"
};

// Watches one node (an incarnation of it) over successive observations.
// Each counter is timed separately: a node that beats but makes no
// progress is stalled all the same, after the progress threshold.
// Between two observations at most max_watch_step_ns() counts as silence:
// a watcher that was itself stalled sees only what it could have seen.
class StallWatch {
 public:
  // Starts (or restarts, if `node`/`incarnation` changed) watching and
  // returns the evidence once a counter has stood still for its threshold.
  // `now_ns` is monotonic.
  std::optional<Stall> observe(const Pool& pool, std::uint32_t node, std::uint32_t incarnation,
                               std::uint64_t now_ns);
  void reset() { node_ = layout::kNoNode; }
  std::uint32_t node() const { return node_; }

 private:
  std::uint32_t node_ = layout::kNoNode;
  std::uint32_t incarnation_ = 0;
  std::uint64_t last_observed_ns_ = 0;
  std::uint64_t heartbeat_ = 0, heartbeat_silent_ns_ = 0;
  std::uint64_t progress_ = 0, progress_silent_ns_ = 0;
};

// The daemon's own side of `progress`: a node is wedged when it has held
// one of GMM's table locks (membership, directory, a partition, sync) for
// twice the detection threshold without releasing it. Lock waits end
// within the threshold (a stalled owner is declared failed), so a healthy
// node never holds a table lock that long; one that does would block the
// others for ever while its liveness thread kept beating. Run by the
// node's liveness thread each period.
class WedgeWatch {
 public:
  // True while a table lock held by `me` has stayed with the same
  // acquisition for longer than 2 x the detection threshold.
  bool wedged(const Pool& pool, std::uint64_t me, std::uint64_t now_ns);
  // The lock that made it wedged (for the log), or "" when not wedged.
  const std::string& culprit() const { return culprit_; }

 private:
  struct Held {
    const layout::GlobalLock* lock;
    std::uint64_t acquisitions;
    std::uint64_t since_ns;
  };
  std::vector<Held> held_;
  std::string culprit_;
};

}  // namespace gmm
