#include "gmm/membership.hpp"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "gmm/atomic.hpp"
#include "gmm/fencing.hpp"
#include "gmm/lock.hpp"
#include "records.hpp"

namespace gmm {
using namespace layout;

namespace {

std::uint64_t bit(std::uint32_t node) { return std::uint64_t{1} << node; }

std::uint64_t checker_owner() { return lock_owner_word(kCheckerNode, static_cast<std::uint32_t>(::getpid())); }

// The host watcher's notices (gmm/fencing.hpp): every node named dead in
// its current, live incarnation is declared failed the normal way. Only
// the membership lock is taken. True if this call declared one.
bool declare_noticed_nodes(const Pool& pool, std::uint32_t self, std::uint64_t me,
                           const std::function<void()>& keep_alive, const AgentLog& log) {
  bool declared_any = false;
  for (std::uint32_t n = 0; n < pool.node_count(); ++n) {
    if (n == self) continue;
    const std::uint32_t incarnation = live_notice(pool, n);
    if (incarnation == 0) continue;
    auto declared = records::declare_noticed(pool, me, n, incarnation, keep_alive);
    if (!declared || !*declared) continue;
    declared_any = true;
    if (log) log(LogLevel::kWarning, fmt::format("declared node {} (incarnation {}) failed on the host's notice", n, incarnation));
  }
  return declared_any;
}

// A membership change is broadcast (view-changed) so that the others act
// at once instead of at their next tick.
void announce(Messenger* messenger) {
  if (messenger != nullptr)
    (void)messenger->broadcast(static_cast<std::uint32_t>(MessageKind::kViewChanged), {});  // best effort
}

}  // namespace


std::string_view event_name(EventKind kind) {
  switch (kind) {
    case EventKind::kNodeFailed: return "node-failed";
    case EventKind::kMemoryLost: return "memory-lost";
    case EventKind::kNodeLeaving: return "node-leaving";
    case EventKind::kNodeJoined: return "node-joined";
    case EventKind::kNone: break;
  }
  return "none";
}

// ------------------------------------------------------------ EventService --

int EventService::subscribe(Phase phase, Predicate predicate, Callback callback) {
  std::lock_guard guard(mutex_);
  const int id = next_id_++;
  subscriptions_.emplace(id, Subscription{phase, std::move(predicate), std::move(callback)});
  return id;
}

void EventService::unsubscribe(int id) {
  std::lock_guard guard(mutex_);
  subscriptions_.erase(id);
}

void EventService::deliver(Phase phase, const Event& event) {
  std::vector<Callback> matching;
  {
    std::lock_guard guard(mutex_);
    for (const auto& [id, sub] : subscriptions_)
      if (sub.phase == phase && (!sub.predicate || sub.predicate(event))) matching.push_back(sub.callback);
  }
  for (const auto& callback : matching) callback(event);  // unlocked: callbacks may subscribe
}

// ------------------------------------------------------------ ClusterAgent --

ClusterAgent::ClusterAgent(Node& node, EventService& events, Messenger* messenger, MessageHandler on_message)
    : node_(node), events_(events), messenger_(messenger), on_message_(std::move(on_message)), pool_(node.pool()) {
  reset();
}

void ClusterAgent::reset() {
  // Events before this incarnation joined are not ours to act on; those
  // since are, even if declared while the join was still cleaning up.
  seen_events_ = node_.joined_event();
  pending_.clear();
  if (messenger_ != nullptr) messenger_->discard_pending();
  announce_view_change();  // we (re)joined: paper 4.1 tells the others at once
}

void ClusterAgent::announce_view_change() { announce(messenger_); }

void ClusterAgent::drain_messages() {
  if (messenger_ == nullptr) return;
  while (auto message = messenger_->receive())
    if (message->kind >= kFirstApplicationMessage && on_message_) on_message_(*message);
  // GMM's own kinds need no handling: being woken is the point.
}

std::chrono::microseconds ClusterAgent::period() const {
  return std::chrono::microseconds(load_acquire(pool_.cluster().heartbeat_period_us));
}

ClusterAgent::TickResult ClusterAgent::tick() {
  // Fencing: an expelled node touches nothing and must rejoin.
  if (!node_.is_member()) return TickResult::kExpelled;
  if (leave_if_asked(realtime_ns())) return TickResult::kLeft;
  drain_messages();
  act_on_notices();
  coordinate();
  observe_records();
  return node_.is_member() ? TickResult::kOk : TickResult::kExpelled;
}

ClusterAgent::TickResult ClusterAgent::on_doorbell() {
  if (!node_.is_member()) return TickResult::kExpelled;
  drain_messages();
  act_on_notices();  // the host watcher rings the survivors after a notice
  coordinate();
  observe_records();
  return node_.is_member() ? TickResult::kOk : TickResult::kExpelled;
}

void ClusterAgent::act_on_notices() {
  if (declare_noticed_nodes(pool_, node_.id(), node_.lock_owner(), nullptr, {})) announce_view_change();
}

// ----------------------------------------------------------- LivenessAgent --

LivenessAgent::LivenessAgent(Node& node, Messenger* messenger, AgentLog log, OsHeartbeat* os_heartbeat)
    : node_(node), messenger_(messenger), log_(std::move(log)), os_(os_heartbeat), pool_(node.pool()) {}

std::chrono::microseconds LivenessAgent::period() const {
  return std::chrono::microseconds(load_acquire(pool_.cluster().heartbeat_period_us));
}

void LivenessAgent::tick() {
  const std::uint64_t now = monotonic_ns();
  const bool wedged = wedge_.wedged(pool_, node_.lock_owner(), now);
  if (wedged != wedged_ && log_)
    log_(wedged ? LogLevel::kWarning : LogLevel::kInfo,
         wedged ? fmt::format("wedged: {}; progress stops, so the others declare this node failed", wedge_.culprit())
                : std::string("no longer wedged"));
  wedged_ = wedged;
  node_.beat(!wedged, !os_beats());
  // A tick that comes late (this thread was stalled) counts as at most two
  // periods of the successor's silence (StallWatch): no accusation for our
  // own gap.
  // Fencing: an expelled node accuses nobody (its agent thread rejoins).
  if (!node_.is_member()) return;
  // The host watcher's notices, in case its ring did not reach the agent.
  if (declare_noticed_nodes(pool_, node_.id(), node_.lock_owner(), [&] { node_.beat(!wedged_); }, log_))
    announce(messenger_);
  if (heartbeat_detection_on(pool_, realtime_ns())) {
    watch_successor(now);
  } else {
    successor_.reset();  // the host watcher detects alone (--detector host)
  }
}

bool LivenessAgent::os_beats() {
  if (os_ == nullptr || node_.lock_owner() == 0) return false;  // never joined: nothing to beat for
  const std::uint32_t incarnation = node_.incarnation();
  if (incarnation == os_incarnation_) return true;  // it stops by itself once that incarnation ends
  if (incarnation == os_refused_) return false;     // expelled before it started: rejoin first
  const auto period = std::max(this->period(), std::chrono::microseconds(1000));
  Status started = os_->start(node_.id(), incarnation, period);
  if (started) {
    os_incarnation_ = incarnation;
    if (log_) log_(LogLevel::kInfo, fmt::format("heartbeat of incarnation {}: {}", incarnation, os_->describe()));
    return true;
  }
  if (started.error().code == Errc::kExpelled) {
    os_refused_ = incarnation;
    return false;
  }
  if (log_)
    log_(LogLevel::kWarning,
         fmt::format("{}; the liveness thread beats the heartbeat itself (guest load can starve it)", started.error().message));
  os_ = nullptr;
  return false;
}

void LivenessAgent::watch_successor(std::uint64_t now_ns) {
  const std::uint64_t members = load_acquire(pool_.cluster().members) & ~bit(node_.id());
  if (members == 0) {
    successor_.reset();
    return;
  }
  // Ring: the next member by id after this node, wrapping around.
  const std::uint64_t above = members & ~((bit(node_.id()) << 1) - 1);
  const auto successor = static_cast<std::uint32_t>(std::countr_zero(above != 0 ? above : members));
  const std::uint32_t incarnation = load_acquire(pool_.node_slot(successor).incarnation);
  const auto stall = successor_.observe(pool_, successor, incarnation, now_ns);
  if (!stall) return;
  auto declared = records::declare_failed(pool_, node_.lock_owner(), *stall, [&] { node_.beat(!wedged_); });
  successor_.reset();
  if (!declared || !*declared) return;
  if (log_) log_(LogLevel::kWarning, fmt::format("declared {} failed", stall->describe()));
  announce(messenger_);
}

// The coordinator (live member with the lowest id) recovers the tables.
void ClusterAgent::coordinate() {
  const ClusterHeader& c = pool_.cluster();
  const std::uint64_t members = load_acquire(c.members);
  if (members == 0 || static_cast<std::uint32_t>(std::countr_zero(members)) != node_.id()) return;
  std::vector<std::uint32_t> failed;
  const std::uint64_t now = realtime_ns();
  for (std::uint32_t n = 0; n < pool_.node_count(); ++n) {
    const NodeSlot& slot = pool_.node_slot(n);
    if (load_state<NodeState>(slot.state) != NodeState::kFailed) continue;
    // Fencing: not before the host watcher has stopped it for good (it
    // rings us then); at once when no watcher runs.
    if (fence_pending(pool_, n, load_acquire(slot.incarnation), now)) continue;
    failed.push_back(n);
  }
  const std::uint64_t events = load_acquire(c.events);
  const std::uint64_t first = events > kRecoveryRecords ? events - kRecoveryRecords + 1 : 1;
  if (!failed.empty()) {
    if (!node_.recover_failed_nodes(failed)) return;  // retried next period
    auto lock = records::lock_membership(pool_, node_.lock_owner(), nullptr);
    if (!lock) return;
    ClusterHeader& cluster = pool_.cluster();
    for (std::uint32_t n : failed) {
      publish_state(pool_.node_slot(n).state, NodeState::kAbsent);
      store_release(cluster.leaving, load_acquire(cluster.leaving) & ~bit(n));  // a leave it cannot finish
    }
  }
  for (std::uint64_t seq = first; seq <= events; ++seq) {
    RecoveryRecord& r = pool_.recovery(seq);
    if (load_acquire(r.tables_recovered_ns) != 0) continue;
    const auto kind = static_cast<EventKind>(r.kind);
    const auto state = load_state<NodeState>(pool_.node_slot(r.node).state);
    const bool recovered =
        (kind == EventKind::kNodeFailed && state != NodeState::kFailed) ||
        (kind == EventKind::kMemoryLost && node_.recover_lost_memory(r.node).ok()) ||
        (kind == EventKind::kNodeLeaving && leave_finished(r));
    if (recovered) {
      // Fencing: a coordinator expelled meanwhile stamps nothing.
      if (!node_.is_member()) return;
      store_release(r.tables_recovered_ns, realtime_ns());
      announce_view_change();  // survivors may tell their applications now
    }
  }
}

// A planned leave is finished once the node has left and the system has
// revoked what is left of its memory (Node::revoke_departed, retried every
// period until it succeeds; a coordinator dying in it is recovered and the
// next one runs it again), or once it cannot finish: the node failed
// (crash recovery took over and cleared its leaving mark) or rejoined.
bool ClusterAgent::leave_finished(const RecoveryRecord& record) {
  const auto state = load_state<NodeState>(pool_.node_slot(record.node).state);
  if (state == NodeState::kFailed) return false;  // crash recovery first
  if ((load_acquire(pool_.cluster().leaving) & bit(record.node)) == 0) return true;
  if (state != NodeState::kAbsent) return false;  // in its grace period, or leaving
  return node_.revoke_departed(record.node).ok();
}

void ClusterAgent::observe_records() {
  const std::uint64_t events = load_acquire(pool_.cluster().events);
  for (std::uint64_t seq = seen_events_ + 1; seq <= events; ++seq) pending_.emplace(seq, false);
  seen_events_ = events;
  for (auto it = pending_.begin(); it != pending_.end();)
    it = progress(it->first) ? pending_.erase(it) : std::next(it);
}

bool ClusterAgent::progress(std::uint64_t sequence) {
  RecoveryRecord& r = pool_.recovery(sequence);
  if (load_acquire(r.sequence) != sequence) return true;  // overwritten: too old
  const Event event{static_cast<EventKind>(r.kind), r.node, r.incarnation, sequence};
  bool& first_phase_done = pending_[sequence];
  using Phase = EventService::Phase;
  if (event.kind == EventKind::kNone) return true;
  if (event.kind == EventKind::kNodeJoined) {
    events_.deliver(Phase::kSystem, event);
    events_.deliver(Phase::kApplication, event);
    return true;
  }
  // Paper 3.7: after a crash or memory loss the system recovers first and
  // applications are told once the tables are recovered; a planned leave
  // tells applications first (they get the grace period), the system after.
  const bool planned = event.kind == EventKind::kNodeLeaving;
  const Phase first = planned ? Phase::kApplication : Phase::kSystem;
  const Phase second = planned ? Phase::kSystem : Phase::kApplication;
  if (!first_phase_done) {
    if (event.kind == EventKind::kMemoryLost) node_.forget_shares_on(event.node);
    events_.deliver(first, event);
    first_phase_done = true;
  }
  if (load_acquire(r.tables_recovered_ns) == 0) return false;
  if (planned) node_.forget_revoked_shares(event.node);  // the coordinator revoked them
  events_.deliver(second, event);
  store_release(r.finished_ns[node_.id()], realtime_ns());
  fetch_or_acq_rel(r.done, bit(node_.id()));
  return true;
}

bool ClusterAgent::leave_if_asked(std::uint64_t now_ns) {
  const ClusterHeader& c = pool_.cluster();
  if ((load_acquire(c.leaving) & bit(node_.id())) == 0) return false;
  const RecoveryRecord record = latest_record(pool_, EventKind::kNodeLeaving);
  if (record.node == node_.id() && record.sequence != 0 &&
      now_ns - record.declared_ns < static_cast<std::uint64_t>(load_acquire(c.leave_grace_ms)) * 1'000'000) {
    observe_records();  // our own applications hear about it too
    return false;
  }
  // Grace period over: the node closes what it shares and leaves; the
  // coordinator then revokes what others still share of its memory and
  // stamps the record (coordinate). The last member has nobody to do that
  // after it: it revokes its memory itself first.
  if (!node_.close_all()) return false;
  const bool last = (load_acquire(c.members) & ~bit(node_.id())) == 0;
  if (last && !node_.revoke_departed(node_.id())) return false;
  if (record.sequence != 0) {
    RecoveryRecord& live = pool_.recovery(record.sequence);
    if (last) store_release(live.tables_recovered_ns, realtime_ns());
    store_release(live.finished_ns[node_.id()], realtime_ns());
    fetch_or_acq_rel(live.done, bit(node_.id()));
  }
  node_.leave();
  return true;
}

// -------------------------------------------------------- host declarations --

namespace {

template <class Change>
Status as_checker(const Pool& pool, Change&& change) {
  auto lock = records::lock_membership(pool, checker_owner(), nullptr);
  if (!lock) return lock.error();
  return change();
}

}  // namespace

Status declare_memory_lost(const Pool& pool, std::uint32_t node) {
  if (node >= pool.node_count())
    return make_error(Errc::kInvalidArgument, fmt::format("node {} does not exist", node));
  return as_checker(pool, [&]() -> Status {
    ClusterHeader& c = pool.cluster();
    if (pool.partition_lost(node)) return make_error(Errc::kExists, fmt::format("memory of node {} is already lost", node));
    store_release(c.lost_partitions, load_acquire(c.lost_partitions) | bit(node));
    records::append(pool, EventKind::kMemoryLost, node, load_acquire(pool.node_slot(node).incarnation), kCheckerNode, 0);
    return ok_status();
  });
}

Status request_leave(const Pool& pool, std::uint32_t node) {
  if (node >= pool.node_count())
    return make_error(Errc::kInvalidArgument, fmt::format("node {} does not exist", node));
  return as_checker(pool, [&]() -> Status {
    const NodeSlot& slot = pool.node_slot(node);
    if (load_state<NodeState>(slot.state) != NodeState::kMember)
      return make_error(Errc::kNotFound, fmt::format("node {} is not a member", node));
    ClusterHeader& c = pool.cluster();
    store_release(c.leaving, load_acquire(c.leaving) | bit(node));
    records::append(pool, EventKind::kNodeLeaving, node, load_acquire(slot.incarnation), kCheckerNode, 0);
    return ok_status();
  });
}

RecoveryRecord copy_record(const RecoveryRecord& live) {
  RecoveryRecord copy =
      load_fields(live, &RecoveryRecord::kind, &RecoveryRecord::node, &RecoveryRecord::incarnation,
                  &RecoveryRecord::declared_by, &RecoveryRecord::sequence, &RecoveryRecord::view_epoch,
                  &RecoveryRecord::last_beat_ns, &RecoveryRecord::declared_ns, &RecoveryRecord::tables_recovered_ns,
                  &RecoveryRecord::survivors, &RecoveryRecord::done, &RecoveryRecord::detected_by,
                  &RecoveryRecord::fence, &RecoveryRecord::fenced_ns, &RecoveryRecord::host_seen_ns);
  for (std::uint32_t n = 0; n < kMaxNodes; ++n) copy.finished_ns[n] = load_acquire(live.finished_ns[n]);
  return copy;
}

RecoveryRecord latest_record(const Pool& pool, EventKind kind) {
  const std::uint64_t events = load_acquire(pool.cluster().events);
  for (std::uint64_t seq = events; seq > 0 && events - seq < kRecoveryRecords; --seq) {
    const RecoveryRecord& r = pool.recovery(seq);
    if (load_acquire(r.sequence) == seq && static_cast<EventKind>(r.kind) == kind) return copy_record(r);
  }
  return RecoveryRecord{};
}

}  // namespace gmm
