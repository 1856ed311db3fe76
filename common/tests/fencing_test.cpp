// The host watcher's side of membership (gmm/fencing.hpp), with node
// processes and the test playing the watcher: notices name an incarnation
// and are declared through the membership lock; recovery waits for the
// fence while a watcher beats, and goes ahead without it once the watcher
// has gone.
#include <atomic>
#include <thread>

#include "cluster_harness.hpp"
#include "gmm/clock.hpp"
#include "gmm/fencing.hpp"

using namespace gmm;
using namespace gmm::layout;
using namespace gmm::test;
using namespace std::chrono_literals;

namespace {

// The test as the host watcher: beats every millisecond while it lives.
class FakeWatcher {
 public:
  explicit FakeWatcher(const Pool& pool, std::uint32_t detectors = kDetectHeartbeat | kDetectHost) : pool_(pool) {
    store_release(pool.cluster().detectors, detectors);
    watcher_beat(pool_, realtime_ns(), 1);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        watcher_beat(pool_, realtime_ns(), 1);
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  ~FakeWatcher() { die(); }
  // Stops beating without a word (a killed watcher): the lease runs out.
  void die() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  const Pool& pool_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

const RecoveryRecord* failure_of(const Pool& pool, std::uint32_t node, std::uint32_t incarnation) {
  const std::uint64_t events = load_acquire(pool.cluster().events);
  for (std::uint64_t seq = events; seq > 0 && events - seq < kRecoveryRecords; --seq) {
    const RecoveryRecord& r = pool.recovery(seq);
    if (load_acquire(r.sequence) == seq && static_cast<EventKind>(r.kind) == EventKind::kNodeFailed &&
        r.node == node && r.incarnation == incarnation)
      return &r;
  }
  return nullptr;
}

}  // namespace

TEST_CASE_METHOD(Cluster,
                 "fencing: a notice is declared through the membership lock; a late one never expels the restarted "
                 "node",
                 "[recovery][fencing]") {
  start_members({0, 1, 2, 3});
  FakeWatcher watcher(*t.pool);
  const std::uint32_t first = kill(2);
  // The watcher saw it die: notice, and the fence is done (its process is gone).
  post_notice(*t.pool, 2, first);
  mark_fenced(*t.pool, 2, first, FenceOutcome::kFenced, realtime_ns());
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 2); }));
  const RecoveryRecord* record = failure_of(*t.pool, 2, first);
  REQUIRE(record != nullptr);
  CHECK(record->detected_by == static_cast<std::uint32_t>(DetectedBy::kHost));
  CHECK(record->declared_by != 2);
  REQUIRE_POOL_CLEAN(*t.pool);

  nodes[2] = spawn_node(t, 2);
  REQUIRE(wait_until([&] { return node_state(*t.pool, 2) == NodeState::kMember; }));
  const std::uint32_t second = t.pool->node_slot(2).incarnation;
  CHECK(second == first + 1);
  // A late notice for the dead incarnation: every survivor sees it at its
  // next ticks, and nobody declares the new one.
  const std::uint64_t events = load_acquire(t.pool->cluster().events);
  post_notice(*t.pool, 2, first);
  std::this_thread::sleep_for(300ms);  // 30 heartbeat periods of every survivor
  CHECK(node_state(*t.pool, 2) == NodeState::kMember);
  CHECK(t.pool->node_slot(2).incarnation == second);
  CHECK(load_acquire(t.pool->cluster().events) == events);
  require_clean_then_empty();
}

TEST_CASE_METHOD(Cluster,
                 "fencing: recovery waits for the watcher's fence, and the declared node's locks stay its own until "
                 "then",
                 "[recovery][fencing]") {
  start_members({0, 1, 2});
  FakeWatcher watcher(*t.pool);
  // Node 3 stops (a paused VM) inside an allocation, holding its partition lock.
  const Pool* pool = t.pool.get();
  nodes[3] = spawn_node(
      t, 3,
      [pool](Node& n) {
        if (!wait_until([&] { return all_members(*pool, 0b1111); })) ::_exit(21);
        (void)n.allocate("late-store", 4096, Placement::local());
      },
      "alloc.extent_carved:1:stop");
  REQUIRE(stopped(nodes[3]));
  const std::uint32_t incarnation = t.pool->node_slot(3).incarnation;
  REQUIRE(wait_until([&] { return node_state(*t.pool, 3) == NodeState::kFailed; }));
  const RecoveryRecord* record = failure_of(*t.pool, 3, incarnation);
  REQUIRE(record != nullptr);
  CHECK(record->detected_by == static_cast<std::uint32_t>(DetectedBy::kHeartbeat));
  // Declared, not fenced: nobody reclaims anything of it, however long.
  std::this_thread::sleep_for(500ms);
  CHECK(node_state(*t.pool, 3) == NodeState::kFailed);
  CHECK(load_acquire(record->tables_recovered_ns) == 0);
  CHECK(lock_owner_node(load_acquire(t.pool->locks().partition[3].owner)) == 3);
  CHECK(fence_pending(*t.pool, 3, incarnation, realtime_ns()));
  // The fence: the process is killed, then the word is stored. Its stores
  // after the crash point can never land now.
  kill(3);
  mark_fenced(*t.pool, 3, incarnation, FenceOutcome::kFenced, realtime_ns());
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 3); }));
  CHECK(load_acquire(record->fence) == static_cast<std::uint32_t>(FenceOutcome::kFenced));
  CHECK(load_acquire(record->fenced_ns) <= load_acquire(record->tables_recovered_ns));
  CHECK(lock_owner_node(load_acquire(t.pool->locks().partition[3].owner)) != 3);
  CHECK(find_section(*t.pool, "late-store").entry == nullptr);
  require_clean_then_empty();
}

TEST_CASE_METHOD(Cluster,
                 "fencing: when the watcher dies, recovery goes ahead without its fence once its lease runs out",
                 "[recovery][fencing]") {
  start_members({0, 1, 2, 3});
  FakeWatcher watcher(*t.pool);
  const std::uint32_t incarnation = kill(1);
  REQUIRE(wait_until([&] { return node_state(*t.pool, 1) == NodeState::kFailed; }));
  std::this_thread::sleep_for(200ms);
  CHECK(node_state(*t.pool, 1) == NodeState::kFailed);  // waiting for a fence
  watcher.die();
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 1); }));
  const RecoveryRecord* record = failure_of(*t.pool, 1, incarnation);
  REQUIRE(record != nullptr);
  CHECK(record->fence == static_cast<std::uint32_t>(FenceOutcome::kNone));
  CHECK(!watcher_running(*t.pool, realtime_ns()));
  require_clean_then_empty();
}

TEST_CASE_METHOD(Cluster,
                 "fencing: with the host as the only detector the ring watch rests while the watcher runs, and "
                 "resumes when it dies",
                 "[recovery][fencing]") {
  start_members({0, 1, 2, 3});
  FakeWatcher watcher(*t.pool, kDetectHost);
  const std::uint32_t incarnation = t.pool->node_slot(2).incarnation;
  nodes[2].kill(SIGSTOP);
  REQUIRE(stopped(nodes[2]));
  std::this_thread::sleep_for(600ms);  // twice the heartbeat's detection threshold
  CHECK(node_state(*t.pool, 2) == NodeState::kMember);
  CHECK(heartbeat_detection_on(*t.pool, realtime_ns()) == false);
  watcher.die();  // the fallback: the heartbeat detects again
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 2); }));
  const RecoveryRecord* record = failure_of(*t.pool, 2, incarnation);
  REQUIRE(record != nullptr);
  CHECK(record->detected_by == static_cast<std::uint32_t>(DetectedBy::kHeartbeat));
  kill(2);
  require_clean_then_empty();
}
