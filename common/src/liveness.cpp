#include "gmm/liveness.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "gmm/atomic.hpp"
#include "gmm/lock.hpp"

namespace gmm {
using namespace layout;

std::uint64_t detection_threshold_ns(const Pool& pool) {
  const ClusterHeader& c = pool.cluster();
  return std::uint64_t{load_acquire(c.heartbeat_period_us)} * 1000 * load_acquire(c.miss_threshold);
}

std::uint64_t progress_threshold_ns(const Pool& pool) { return kProgressThresholdFactor * detection_threshold_ns(pool); }

std::uint64_t max_watch_step_ns(const Pool& pool) {
  return std::uint64_t{load_acquire(pool.cluster().heartbeat_period_us)} * 1000 * 2;
}

LivenessSample sample_liveness(const Pool& pool, std::uint32_t node) {
  const NodeSlot& slot = pool.node_slot(node);
  LivenessSample s;
  s.state = load_state<NodeState>(slot.state);
  s.incarnation = load_acquire(slot.incarnation);
  s.heartbeat = load_acquire(slot.heartbeat);
  s.progress = load_acquire(slot.progress);
  s.heartbeat_ns = load_acquire(slot.heartbeat_ns);
  return s;
}

bool Stall::still_holds(const LivenessSample& now) const {
  const bool alive_by_state = now.state == NodeState::kMember || now.state == NodeState::kJoining;
  return alive_by_state && now.incarnation == incarnation &&
         ((heartbeat_stopped && now.heartbeat == heartbeat) || (progress_stopped && now.progress == progress));
}

std::string Stall::describe() const {
  const char* what = heartbeat_stopped && progress_stopped ? "no heartbeat and no progress"
                     : heartbeat_stopped                   ? "no heartbeat"
                                                           : "no progress (its daemon holds a table lock and is wedged)";
  return fmt::format("node {} (incarnation {}): {} for {} ms", node, incarnation, what, still_for_ns / 1'000'000);
}

std::optional<Stall> StallWatch::observe(const Pool& pool, std::uint32_t node, std::uint32_t incarnation,
                                         std::uint64_t now_ns) {
  const LivenessSample s = sample_liveness(pool, node);
  if (node != node_ || incarnation != incarnation_) {
    node_ = node;
    incarnation_ = incarnation;
    heartbeat_ = s.heartbeat;
    progress_ = s.progress;
    heartbeat_silent_ns_ = progress_silent_ns_ = 0;
    last_observed_ns_ = now_ns;
    return std::nullopt;
  }
  // Only the time this watcher ran counts: a long gap since its previous
  // look is its own stall, not evidence against the node.
  const std::uint64_t step = std::min(now_ns - std::min(now_ns, last_observed_ns_), max_watch_step_ns(pool));
  last_observed_ns_ = now_ns;
  if (s.heartbeat != heartbeat_) {
    heartbeat_ = s.heartbeat;
    heartbeat_silent_ns_ = 0;
  } else {
    heartbeat_silent_ns_ += step;
  }
  if (s.progress != progress_) {
    progress_ = s.progress;
    progress_silent_ns_ = 0;
  } else {
    progress_silent_ns_ += step;
  }
  Stall stall;
  stall.heartbeat_stopped = heartbeat_silent_ns_ > detection_threshold_ns(pool);
  stall.progress_stopped = progress_silent_ns_ > progress_threshold_ns(pool);
  if (!stall.heartbeat_stopped && !stall.progress_stopped) return std::nullopt;
  stall.node = node;
  stall.incarnation = incarnation;
  stall.heartbeat = heartbeat_;
  stall.progress = progress_;
  stall.last_beat_ns = s.heartbeat_ns;
  stall.still_for_ns = std::max(stall.heartbeat_stopped ? heartbeat_silent_ns_ : 0,
                                stall.progress_stopped ? progress_silent_ns_ : 0);
  return stall;
}

bool WedgeWatch::wedged(const Pool& pool, std::uint64_t me, std::uint64_t now_ns) {
  GlobalLocks& locks = pool.locks();
  std::vector<const GlobalLock*> mine;
  auto consider = [&](const GlobalLock& lock) {
    if (load_acquire(lock.owner) == me) mine.push_back(&lock);
  };
  consider(locks.membership);
  consider(locks.directory);
  for (std::uint32_t n = 0; n < pool.node_count(); ++n) consider(locks.partition[n]);
  consider(locks.sync);

  std::vector<Held> still;
  for (const GlobalLock* lock : mine) {
    const std::uint64_t acquisitions = load_acquire(lock->acquisitions);
    auto seen = std::find_if(held_.begin(), held_.end(), [&](const Held& h) { return h.lock == lock; });
    const bool same_hold = seen != held_.end() && seen->acquisitions == acquisitions;
    still.push_back(Held{lock, acquisitions, same_hold ? seen->since_ns : now_ns});
  }
  held_ = std::move(still);
  const std::uint64_t limit = 2 * detection_threshold_ns(pool);
  culprit_.clear();
  for (const Held& h : held_) {
    if (now_ns - h.since_ns <= limit) continue;
    culprit_ = h.lock == &locks.membership ? "membership"
               : h.lock == &locks.directory ? "directory"
               : h.lock == &locks.sync      ? "sync"
                                            : fmt::format("partition {}", h.lock - locks.partition);
    culprit_ = fmt::format("the {} lock, held for {} ms", culprit_, (now_ns - h.since_ns) / 1'000'000);
    return true;
  }
  return false;
}

}  // namespace gmm
