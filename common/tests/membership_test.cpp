// Membership: events, liveness and failure declaration. Liveness never
// waits for work, and no lock wait waits for ever: the sequences that used
// to freeze a cluster (a node dying with a lock held
// while the node that had to notice was joining, or coordinating another
// recovery; a stopped or wedged lock holder; the checker behind any of
// these) now end with the holder declared failed through the membership
// path, recovered, and a clean pool. Plus the pieces: StallWatch and
// WedgeWatch on their own.
#include <sys/wait.h>

#include <functional>
#include <optional>

#include "cluster_harness.hpp"
#include "gmm/liveness.hpp"
#include "gmm/lock.hpp"
#include "gmm/membership.hpp"

using namespace gmm;
using namespace gmm::layout;
using namespace gmm::test;
using namespace std::chrono_literals;

namespace {

// A node's script: take `lock`, say so, and keep it until killed.
[[noreturn]] void hold_until_killed(const Pool& pool, GlobalLock& lock, Node& n, const SharedFlag& holding) {
  auto held = TableLock::acquire(pool, lock, n.lock_owner(), [] {});
  if (!held) ::_exit(20);
  holding.set();
  for (;;) ::pause();
}

std::uint32_t owner_node(const GlobalLock& lock) { return lock_owner_node(load_acquire(lock.owner)); }

// `node` is inside an allocation holding its home partition's lock (past
// alloc.extent_carved's targets; joins and recoveries take that lock
// without a transaction of their own).
bool inside_allocation(const Pool& pool, std::uint32_t node) {
  for (std::uint32_t s = 0; s < kTxnSlotsPerNode; ++s) {
    const TxnRecord& r = pool.txn(node, s);
    const std::uint32_t home = load_acquire(r.home_node);
    if (load_state<TxnState>(r.state) == TxnState::kActive && home < pool.node_count() &&
        owner_node(pool.locks().partition[home]) == node)
      return true;
  }
  return false;
}

std::string report_text(const CheckReport& r) { return violations_text(r); }

}  // namespace

namespace {

// Node 2 takes `lock` (chosen from the pool by `which`) and holds it; node
// 1 starts and joins until it is in `joiner_state`, where its join waits on
// that lock; node 2 dies. Node 1 must declare it (it is the only node that
// can), finish its join without being expelled, and recover node 2.
void die_holding_while_the_other_joins(GlobalLock& (*which)(const Pool&), NodeState joiner_state) {
  Cluster c;
  const Pool* pool = c.t.pool.get();
  SharedFlag holding;
  c.nodes[2] = spawn_node(c.t, 2,
                          [pool, which, &holding](Node& n) { hold_until_killed(*pool, which(*pool), n, holding); });
  REQUIRE(wait_until([&] { return holding.is_set(); }));
  c.nodes[1] = spawn_node(c.t, 1);
  REQUIRE(wait_until([&] { return node_state(*pool, 1) == joiner_state; }));
  c.kill_and_await_recovery(2);
  CHECK(node_state(*pool, 1) == NodeState::kMember);
  CHECK(pool->node_slot(1).incarnation == 1);  // never expelled itself
  CHECK(latest_record(*pool, EventKind::kNodeFailed).declared_by == 1);
  c.require_clean_then_empty();
}

}  // namespace

TEST_CASE("membership: a node dying with the directory lock while the only other node joins is declared by the joiner",
          "[recovery][liveness]") {
  // Node 1's join waits for the directory lock before it becomes a member:
  // nobody else could notice node 2.
  die_holding_while_the_other_joins([](const Pool& p) -> GlobalLock& { return p.locks().directory; },
                                    NodeState::kJoining);
}

TEST_CASE("membership: a node dying with a partition lock while its watcher is inside join is declared by the watcher",
          "[recovery][liveness]") {
  // Node 1 becomes a member (node 2's ring predecessor, its only watcher),
  // then its join cleans up after a previous incarnation: every partition
  // lock, so it waits on node 2's.
  die_holding_while_the_other_joins([](const Pool& p) -> GlobalLock& { return p.locks().partition[2]; },
                                    NodeState::kMember);
}

TEST_CASE_METHOD(Cluster,
                 "membership: a second node dying with a lock the coordinator's recovery needs is recovered too",
                 "[recovery][liveness]") {
  const Pool* pool = t.pool.get();
  SharedFlag holding;
  // Ring 0 -> 2 -> 3 -> 0: node 0 coordinates and is node 2's only watcher.
  nodes[3] = spawn_node(t, 3, [](Node& n) { (void)n.allocate("x", 4096, Placement::local()); });
  REQUIRE(wait_until([&] { return find_section(*t.pool, "x").entry != nullptr; }));
  nodes[0] = spawn_node(t, 0, [](Node& n) { (void)n.open("x"); });
  nodes[2] = spawn_node(t, 2, [pool, &holding](Node& n) {
    // Once every node has joined (a joiner takes every partition lock),
    // hold the partition the recovery of node 3 has to clean.
    if (!wait_until([&] { return sharer_nodes(*pool, find_section(*pool, "x")) == 0b1001; })) ::_exit(21);
    hold_until_killed(*pool, pool->locks().partition[3], n, holding);
  });
  REQUIRE(wait_until([&] { return holding.is_set(); }));
  const std::uint32_t coordinator_incarnation = t.pool->node_slot(0).incarnation;
  kill(3);
  REQUIRE(wait_until([&] { return node_state(*t.pool, 3) == NodeState::kFailed; }));
  std::this_thread::sleep_for(30ms);  // node 0's recovery of node 3 now waits on node 2's lock
  kill(2);
  REQUIRE(wait_until([&] {
    return recovered(*t.pool, EventKind::kNodeFailed, 3) && recovered(*t.pool, EventKind::kNodeFailed, 2);
  }));
  CHECK(node_state(*t.pool, 0) == NodeState::kMember);
  CHECK(t.pool->node_slot(0).incarnation == coordinator_incarnation);  // the coordinator was never expelled
  const Section x = find_section(*t.pool, "x");
  REQUIRE(x.entry != nullptr);
  CHECK(sharer_nodes(*t.pool, x) == 0b0001);
  require_clean_then_empty();
}

namespace {

// Node `id` allocates `name` on its own partition and fails at
// alloc.extent_carved (partition lock held, free list carved) with
// `action`: "stop" or "hang". With `wait_for_all`, only once nodes 0..3
// are all members. Returns once it is there.
void fail_inside_allocation(const TempPool& t, std::vector<NodeProcess>& nodes, std::uint32_t id, const char* name,
                            const std::string& action, bool wait_for_all) {
  const Pool* pool = t.pool.get();
  const std::string spec = "alloc.extent_carved:1:" + action;
  nodes[id] = spawn_node(
      t, id,
      [pool, name, wait_for_all](Node& n) {
        if (wait_for_all && !wait_until([&] { return all_members(*pool, 0b1111); })) ::_exit(21);
        (void)n.allocate(name, 4096, Placement::local());
      },
      spec.c_str());
  if (action == "stop")
    REQUIRE(stopped(nodes[id]));
  else
    REQUIRE(wait_until([&] { return inside_allocation(*t.pool, id); }));
}

}  // namespace

TEST_CASE_METHOD(Cluster,
                 "membership: a node stopped inside an allocation with its partition lock is recovered, then rejoins",
                 "[recovery][liveness][fencing]") {
  start_members({0, 1, 2});
  fail_inside_allocation(t, nodes, 3, "stopped-in-alloc", "stop", true);
  CHECK(owner_node(t.pool->locks().partition[3]) == 3);
  const std::uint32_t incarnation = t.pool->node_slot(3).incarnation;
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 3); }));
  CHECK(latest_record(*t.pool, EventKind::kNodeFailed).declared_by == 2);
  CHECK(owner_node(t.pool->locks().partition[3]) != 3);
  REQUIRE_POOL_CLEAN(*t.pool);
  nodes[3].kill(SIGCONT);  // resumes, finds itself expelled, touches nothing, rejoins
  REQUIRE(wait_until([&] {
    return node_state(*t.pool, 3) == NodeState::kMember && t.pool->node_slot(3).incarnation > incarnation;
  }));
  CHECK(find_section(*t.pool, "stopped-in-alloc").entry == nullptr);
  require_clean_then_empty();
}

TEST_CASE_METHOD(Cluster,
                 "membership: a wedged daemon holding a partition lock stops its progress and is declared failed",
                 "[recovery][liveness]") {
  start_members({0, 1, 2});
  // Its request thread blocks for ever holding the lock; its liveness
  // thread keeps beating.
  fail_inside_allocation(t, nodes, 3, "wedged-in-alloc", "hang", true);
  const std::uint64_t beats_before = load_acquire(t.pool->node_slot(3).heartbeat);
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 3); }));
  CHECK(load_acquire(t.pool->node_slot(3).heartbeat) > beats_before);  // it was beating all along
  CHECK(latest_record(*t.pool, EventKind::kNodeFailed).declared_by == 2);
  CHECK(find_section(*t.pool, "wedged-in-alloc").entry == nullptr);
  REQUIRE_POOL_CLEAN(*t.pool);
  kill(3);  // its hung thread would never let it leave
  stop_all();
  require_empty(t);
}

TEST_CASE_METHOD(Cluster, "membership: the checker reports a stopped or wedged lock holder and finishes",
                 "[recovery][liveness]") {
  // Node 0 alone: nobody declares it, so the checker meets the held lock.
  const auto [action, evidence] = GENERATE(table<std::string, std::string>({{"stop", "no heartbeat"}, {"hang", "no progress"}}));
  fail_inside_allocation(t, nodes, 0, "a", action, false);
  const std::string report = report_text(check_pool(*t.pool));
  INFO(report);
  CHECK(report.find("partition 0 lock not taken: held by node 0 (incarnation 1): " + evidence) != std::string::npos);
}

// ----------------------------------------------------- the membership lock --

TEST_CASE("membership: event predicates select callbacks and phases are delivered separately", "[events]") {
  EventService events;
  std::vector<std::string> calls;
  events.subscribe(EventService::Phase::kSystem, nullptr, [&](const Event& e) { calls.push_back("sys " + std::to_string(e.node)); });
  const int app = events.subscribe(
      EventService::Phase::kApplication, [](const Event& e) { return e.kind == EventKind::kNodeFailed; },
      [&](const Event& e) { calls.push_back("app " + std::to_string(e.node)); });
  events.deliver(EventService::Phase::kSystem, Event{EventKind::kNodeFailed, 2, 1, 1});
  events.deliver(EventService::Phase::kApplication, Event{EventKind::kNodeFailed, 2, 1, 1});
  events.deliver(EventService::Phase::kApplication, Event{EventKind::kNodeJoined, 3, 1, 2});
  events.unsubscribe(app);
  events.deliver(EventService::Phase::kApplication, Event{EventKind::kNodeFailed, 1, 1, 3});
  CHECK(calls == std::vector<std::string>{"sys 2", "app 2"});
}

TEST_CASE_METHOD(Cluster, "membership: a node that dies holding the membership lock is still declared failed",
                 "[recovery]") {
  start_members({0, 1, 2});
  const Pool* pool = t.pool.get();
  nodes[3] = spawn_node(t, 3, [pool](Node& n) {
    // As if it died in the middle of join, leave or a failure declaration.
    (void)lock_acquire(*pool, pool->locks().membership, n.lock_owner());
    ::kill(::getpid(), SIGKILL);
  });
  nodes[3].wait();
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 3); }));
  CHECK(load_acquire(t.pool->locks().membership.owner) == 0);
  require_clean_then_empty();
}

// ------------------------------------------------------------- the pieces --

namespace {

// A watcher that looks every period (as the liveness thread does): observes
// node 1 incarnation 1 at each step until `span` ns have passed, calling
// `beat` before each look; returns the first stall seen.
std::optional<Stall> watch_for(const Pool& pool, StallWatch& watch, std::uint64_t& now, std::uint64_t span,
                               const std::function<void()>& beat = {}) {
  const std::uint64_t period = std::uint64_t{load_acquire(pool.cluster().heartbeat_period_us)} * 1000;
  for (std::uint64_t end = now + span; now < end;) {
    now += period;
    if (beat) beat();
    if (auto stall = watch.observe(pool, 1, 1, now)) return stall;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("membership: StallWatch times heartbeat and progress separately", "[core][liveness]") {
  TempPool t(64ull << 20, test_geometry(), "stallwatch");
  auto n1 = t.node(1);
  NodeSlot& slot = t.pool->node_slot(1);
  const std::uint64_t threshold = detection_threshold_ns(*t.pool);
  REQUIRE(threshold == 300'000'000);
  REQUIRE(progress_threshold_ns(*t.pool) == 600'000'000);
  StallWatch watch;
  std::uint64_t now = 1'000'000'000;
  CHECK_FALSE(watch.observe(*t.pool, 1, 1, now));  // starts watching
  SECTION("both move: never stalled") {
    CHECK_FALSE(watch_for(*t.pool, watch, now, 10 * threshold, [&] { n1->beat(true); }));
  }
  SECTION("heartbeat moves, progress does not: stalled on progress after the progress threshold") {
    // the OS beats; the daemon's progress stands still (wedged, stopped, starved)
    const auto beat_only = [&] { n1->beat(false); };
    CHECK_FALSE(watch_for(*t.pool, watch, now, progress_threshold_ns(*t.pool), beat_only));
    auto stall = watch_for(*t.pool, watch, now, threshold, beat_only);
    REQUIRE(stall);
    CHECK_FALSE(stall->heartbeat_stopped);
    CHECK(stall->progress_stopped);
    CHECK(stall->still_for_ns > progress_threshold_ns(*t.pool));
    CHECK(stall->still_holds(sample_liveness(*t.pool, 1)));
    n1->beat(true);  // it made progress again: the evidence no longer holds
    CHECK_FALSE(stall->still_holds(sample_liveness(*t.pool, 1)));
    CHECK(stall->describe().find("no progress") != std::string::npos);
  }
  SECTION("progress moves, the heartbeat does not: stalled on the heartbeat after the detection threshold") {
    const auto progress_only = [&] { fetch_add_acq_rel(slot.progress, std::uint64_t{1}); };
    CHECK_FALSE(watch_for(*t.pool, watch, now, threshold, progress_only));
    auto stall = watch_for(*t.pool, watch, now, threshold, progress_only);
    REQUIRE(stall);
    CHECK(stall->heartbeat_stopped);
    CHECK_FALSE(stall->progress_stopped);
    CHECK(stall->describe() == "node 1 (incarnation 1): no heartbeat for 310 ms");
  }
  SECTION("nothing moves: stalled on the heartbeat first, then on both") {
    auto stall = watch_for(*t.pool, watch, now, 2 * threshold);
    REQUIRE(stall);
    CHECK(stall->heartbeat_stopped);
    CHECK_FALSE(stall->progress_stopped);
    for (int look = 0; look < 30; ++look) stall = watch.observe(*t.pool, 1, 1, now += threshold / 30);
    REQUIRE(stall);  // 610 ms without either
    CHECK(stall->heartbeat_stopped);
    CHECK(stall->progress_stopped);
    CHECK(stall->describe() == "node 1 (incarnation 1): no heartbeat and no progress for 610 ms");
    store_release(slot.incarnation, 2u);  // a new incarnation is not the one that stalled
    CHECK_FALSE(stall->still_holds(sample_liveness(*t.pool, 1)));
  }
  SECTION("another incarnation restarts the watch") {
    CHECK(watch_for(*t.pool, watch, now, 2 * threshold));
    CHECK_FALSE(watch.observe(*t.pool, 1, 2, now + 1));
  }
}

TEST_CASE("membership: a watcher that was itself stalled does not blame the node it watches", "[core][liveness]") {
  TempPool t(64ull << 20, test_geometry(), "starvedwatcher");
  auto n1 = t.node(1);
  const std::uint64_t threshold = detection_threshold_ns(*t.pool);
  const std::uint64_t period = threshold / 30;
  StallWatch watch;
  std::uint64_t now = 1'000'000'000;
  CHECK_FALSE(watch.observe(*t.pool, 1, 1, now));
  SECTION("one long gap of the watcher: no stall, however long") {
    now += 10 * threshold;  // the watcher's VM was descheduled; node 1 did not beat either
    CHECK_FALSE(watch.observe(*t.pool, 1, 1, now));
    // the gap counted as two periods: the threshold still lies ahead
    CHECK_FALSE(watch_for(*t.pool, watch, now, threshold - 3 * period));
    CHECK(watch_for(*t.pool, watch, now, 3 * period));
  }
  SECTION("a watcher that only ever looks late still detects a dead node, later") {
    std::optional<Stall> stall;
    int looks = 0;
    while (!stall && looks < 1000) {
      now += threshold / 2;  // 15 periods between looks, each counts as 2
      stall = watch.observe(*t.pool, 1, 1, now);
      ++looks;
    }
    REQUIRE(stall);
    CHECK(stall->heartbeat_stopped);
    CHECK(looks == 16);  // 16 x 2 periods > 30 periods
  }
  SECTION("a late look at a node that beat in between: no stall, silence restarts") {
    now += 10 * threshold;
    n1->beat(true);
    CHECK_FALSE(watch.observe(*t.pool, 1, 1, now));
    CHECK_FALSE(watch_for(*t.pool, watch, now, threshold - period));
  }
}

namespace {

// An OsHeartbeat for the tests: records what it was asked, answers `answer`.
struct FakeOsHeartbeat final : OsHeartbeat {
  Status start(std::uint32_t node, std::uint32_t incarnation, std::chrono::microseconds period) override {
    calls.push_back({node, incarnation, period});
    return answer;
  }
  std::string describe() const override { return "the fake OS"; }
  struct Call {
    std::uint32_t node;
    std::uint32_t incarnation;
    std::chrono::microseconds period;
  };
  std::vector<Call> calls;
  Status answer = ok_status();
};

}  // namespace

TEST_CASE("membership: with an OS heartbeat the liveness agent beats only progress", "[core][liveness]") {
  TempPool t(64ull << 20, test_geometry(), "osbeat");
  FakeOsHeartbeat os;
  Node n2(*t.pool, 2);
  LivenessAgent agent(n2, nullptr, {}, &os);
  NodeSlot& slot = t.pool->node_slot(2);
  agent.tick();  // before join: nothing to beat for
  CHECK(os.calls.empty());
  REQUIRE(n2.join());
  const std::uint64_t heartbeat = load_acquire(slot.heartbeat);
  const std::uint64_t progress = load_acquire(slot.progress);
  SECTION("the OS starts beating: the agent advances progress only") {
    for (int i = 0; i < 5; ++i) agent.tick();
    REQUIRE(os.calls.size() == 1);  // once per incarnation
    CHECK(os.calls[0].node == 2);
    CHECK(os.calls[0].incarnation == n2.incarnation());
    CHECK(os.calls[0].period == std::chrono::microseconds(10'000));
    CHECK(agent.os_beats_for() == n2.incarnation());
    CHECK(load_acquire(slot.heartbeat) == heartbeat);
    CHECK(load_acquire(slot.progress) == progress + 5);
  }
  SECTION("the OS cannot beat (older driver): the agent beats both from then on") {
    os.answer = make_error(Errc::kIo, "not a gmm_heartbeat device");
    for (int i = 0; i < 5; ++i) agent.tick();
    CHECK(os.calls.size() == 1);  // not asked again
    CHECK(agent.os_beats_for() == 0);
    CHECK(load_acquire(slot.heartbeat) == heartbeat + 5);
    CHECK(load_acquire(slot.progress) == progress + 5);
  }
  SECTION("the incarnation ended before the OS started: the agent beats, and asks again after the next join") {
    os.answer = make_error(Errc::kExpelled, "stale");
    agent.tick();
    agent.tick();
    CHECK(os.calls.size() == 1);
    CHECK(load_acquire(slot.heartbeat) == heartbeat + 2);
    n2.leave();
    REQUIRE(n2.join());
    os.answer = ok_status();
    agent.tick();
    REQUIRE(os.calls.size() == 2);
    CHECK(os.calls[1].incarnation == n2.incarnation());
    CHECK(agent.os_beats_for() == n2.incarnation());
  }
}

TEST_CASE("membership: WedgeWatch flags a table lock held for twice the threshold", "[core][liveness]") {
  TempPool t(64ull << 20, test_geometry(), "wedgewatch");
  auto n0 = t.node(0);
  const std::uint64_t limit = 2 * detection_threshold_ns(*t.pool);
  WedgeWatch watch;
  std::uint64_t now = 5'000'000'000;
  CHECK_FALSE(watch.wedged(*t.pool, n0->lock_owner(), now));
  GlobalLock& lock = t.pool->locks().partition[2];
  REQUIRE(lock_try_acquire(*t.pool, lock, n0->lock_owner()));
  CHECK_FALSE(watch.wedged(*t.pool, n0->lock_owner(), now));
  now += limit;
  CHECK_FALSE(watch.wedged(*t.pool, n0->lock_owner(), now));
  SECTION("released and taken again in between: a new hold") {
    lock_release(lock, n0->lock_owner());
    REQUIRE(lock_try_acquire(*t.pool, lock, n0->lock_owner()));
    now += 1;
    CHECK_FALSE(watch.wedged(*t.pool, n0->lock_owner(), now));
  }
  SECTION("the same hold past the limit") {
    now += 1;
    CHECK(watch.wedged(*t.pool, n0->lock_owner(), now));
    CHECK(watch.culprit() == "the partition 2 lock, held for 600 ms");
    lock_release(lock, n0->lock_owner());
    now += 1;
    CHECK_FALSE(watch.wedged(*t.pool, n0->lock_owner(), now));
  }
}
