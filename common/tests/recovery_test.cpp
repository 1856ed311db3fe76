// Membership and recovery with real node processes: a node is killed (or
// paused, or loses its memory, or leaves), the survivors detect it through
// the heartbeat ring, the coordinator recovers the tables, and the pool
// checker finds nothing wrong.
#include <array>
#include <cstring>

#include "cluster_harness.hpp"
#include "sync_steps.hpp"
#include "directory.hpp"

using namespace gmm;
using namespace gmm::layout;
using namespace gmm::test;
using namespace std::chrono_literals;

namespace {

const char* data_of(const Pool& pool, const Section& s) {
  const SectionEntry& sec = pool.sections(s.entry->home_node)[s.entry->section_index];
  return reinterpret_cast<const char*>(pool.at(pool.data_pool_offset(s.entry->home_node, sec.offset)));
}

void write_text(Node& n, std::string_view name, const char* text) {
  auto gid = n.lookup_name(name);
  if (!gid) return;
  auto bytes = n.bytes(*gid);
  if (bytes) std::memcpy(bytes->data(), text, std::strlen(text) + 1);
}

// Starts nodes 0..3; node `owner` allocates shared sections first, the
// others open them.
std::vector<NodeProcess> start_sharing_cluster(const TempPool& t, std::uint32_t owner) {
  std::vector<NodeProcess> nodes(4);
  nodes[owner] = spawn_node(t, owner, [owner](Node& n) {
    (void)n.allocate("only-" + std::to_string(owner), 8192, Placement::local());
    (void)n.allocate("shared-" + std::to_string(owner), 8192, Placement::local());
    (void)n.allocate("remote-" + std::to_string(owner), 4096, Placement::on((owner + 1) % 4));
    write_text(n, "shared-" + std::to_string(owner), "written before the crash");
  });
  REQUIRE(wait_until([&] { return find_section(*t.pool, "remote-" + std::to_string(owner)).entry != nullptr; }));
  for (std::uint32_t id = 0; id < 4; ++id) {
    if (id == owner) continue;
    nodes[id] = spawn_node(t, id, [owner](Node& n) {
      (void)n.open("shared-" + std::to_string(owner));
      (void)n.open("remote-" + std::to_string(owner));
    });
  }
  REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111); }));
  REQUIRE(wait_until([&] { return sharer_nodes(*t.pool, find_section(*t.pool, "shared-" + std::to_string(owner))) == 0b1111; }));
  return nodes;
}

}  // namespace

TEST_CASE_METHOD(Cluster, "recovery: a killed node is detected, removed from sharer lists and its memory reclaimed",
                 "[recovery]") {
  nodes = start_sharing_cluster(t, 2);
  REQUIRE_POOL_CLEAN(*t.pool);

  kill_and_await_recovery(2);
  CHECK(node_state(*t.pool, 2) == NodeState::kAbsent);
  CHECK(find_section(*t.pool, "only-2").entry == nullptr);  // nobody else shared it: freed
  const Section shared = find_section(*t.pool, "shared-2");
  REQUIRE(shared.entry != nullptr);  // memory of an OS crash survives
  CHECK(sharer_nodes(*t.pool, shared) == 0b1011);
  CHECK(std::string(data_of(*t.pool, shared)) == "written before the crash");
  CHECK(sharer_nodes(*t.pool, find_section(*t.pool, "remote-2")) == 0b1011);
  const auto record = latest_record(*t.pool, EventKind::kNodeFailed);
  CHECK(record.declared_by == 1);  // node 2's predecessor in the ring
  CHECK(record.declared_ns >= record.last_beat_ns);
  CHECK(record.tables_recovered_ns >= record.declared_ns);
  require_clean_then_empty();
}

TEST_CASE_METHOD(Cluster, "recovery: killing the directory primary, then the replica, keeps two copies on live nodes",
                 "[recovery]") {
  nodes = start_sharing_cluster(t, 3);
  // Node 3 joined first and holds the primary; node 0 (next to join) the replica.
  const std::uint32_t first_primary = load_acquire(t.pool->cluster().dir_primary);
  CHECK(first_primary == 3);
  // The shared sections live on node 3: kill the holders in the other order.
  for (std::uint32_t victim : {load_acquire(t.pool->cluster().dir_replica), first_primary}) {
    kill_and_await_recovery(victim);
    const std::uint32_t primary = load_acquire(t.pool->cluster().dir_primary);
    const std::uint32_t replica = load_acquire(t.pool->cluster().dir_replica);
    INFO("after node " << victim << ": primary " << primary << ", replica " << replica);
    CHECK(primary != victim);
    CHECK(replica != victim);
    CHECK(node_state(*t.pool, primary) == NodeState::kMember);
    CHECK(node_state(*t.pool, replica) == NodeState::kMember);
    CHECK(find_section(*t.pool, "remote-3").entry != nullptr);
    REQUIRE_POOL_CLEAN(*t.pool);
  }
  stop_all();
  require_empty(t);
}

TEST_CASE_METHOD(Cluster, "recovery: a node restarted after a crash rejoins with a new incarnation", "[recovery]") {
  nodes = start_sharing_cluster(t, 1);
  const std::uint32_t before = t.pool->node_slot(1).incarnation;
  kill_and_await_recovery(1);
  nodes[1] = spawn_node(t, 1, [](Node& n) { (void)n.open("shared-1"); });
  REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111); }));
  CHECK(t.pool->node_slot(1).incarnation == before + 1);
  REQUIRE(wait_until([&] { return sharer_nodes(*t.pool, find_section(*t.pool, "shared-1")) == 0b1111; }));
  require_clean_then_empty();
}

namespace {

// The victim runs every kind of transaction once all four nodes are members.
// "pre" comes from another node's start-up script, which runs only after
// that node joined: wait for it too, or open("pre") reserves no sharer.
void victim_sequence(Node& n, const Pool& pool) {
  if (!wait_until([&] { return all_members(pool, 0b1111) && n.lookup_name("pre"); })) ::_exit(8);
  auto a = n.allocate("victim-a", 3 * 4096, Placement::on((n.id() + 1) % 4));
  (void)n.open("pre");
  (void)n.close("pre");
  if (a) (void)n.close(a->gid);
  (void)n.allocate("victim-b", 4096, Placement::local());
  (void)n.free("victim-b");
  gmm::test::run_sync_steps(n);
  if (crash_armed()) ::_exit(7);  // the point was not reached: the test fails below
}

// Nodes join one at a time in `order`: the first holds the directory
// primary, the second the replica (paper 4.1). The victim fails at `spec`.
std::vector<NodeProcess> start_with_victim(const TempPool& t, const std::string& spec,
                                           std::array<std::uint32_t, 4> order, std::uint32_t victim) {
  std::vector<NodeProcess> nodes(4);
  std::uint64_t joined = 0;
  for (std::uint32_t id : order) {
    const Pool* pool = t.pool.get();
    if (id == victim) {
      nodes[id] = spawn_node(t, id, [pool](Node& n) { victim_sequence(n, *pool); }, spec.c_str());
    } else {
      nodes[id] = spawn_node(t, id, [](Node& n) { (void)n.allocate("pre", 4096, Placement::local()); });
    }
    joined |= 1ull << id;
    REQUIRE(wait_until([&] { return all_members(*t.pool, joined); }));
  }
  REQUIRE(load_acquire(t.pool->cluster().dir_primary) == order[0]);
  REQUIRE(load_acquire(t.pool->cluster().dir_replica) == order[1]);
  return nodes;
}

void crash_point_recovery(const CrashPointInfo& info, std::array<std::uint32_t, 4> order, std::uint32_t victim) {
  Cluster c;
  c.nodes = start_with_victim(c.t, std::string(info.name), order, victim);
  const int status = c.nodes[victim].wait();
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  REQUIRE(wait_until([&] { return recovered(*c.t.pool, EventKind::kNodeFailed, victim); }));
  c.require_clean_then_empty();
}

// The same, but the victim stops there (a paused node) and resumes once the
// others recovered it: it must write nothing more, and rejoin.
void crash_point_stop_and_resume(const CrashPointInfo& info, std::array<std::uint32_t, 4> order, std::uint32_t victim) {
  Cluster c;
  c.nodes = start_with_victim(c.t, std::string(info.name) + ":1:stop", order, victim);
  REQUIRE(stopped(c.nodes[victim]));
  const Pool& pool = *c.t.pool;
  const std::uint32_t incarnation = pool.node_slot(victim).incarnation;
  REQUIRE(wait_until([&] { return recovered(pool, EventKind::kNodeFailed, victim); }));
  REQUIRE_POOL_CLEAN(pool);
  c.nodes[victim].kill(SIGCONT);
  REQUIRE(wait_until([&] {
    return node_state(pool, victim) == NodeState::kMember && pool.node_slot(victim).incarnation > incarnation;
  }));
  c.require_clean_then_empty();
}

}  // namespace

// The leave.* points are the coordinator's, revoking a departed node's
// memory: their own matrix (leave_revocation_crash) runs them.
TEST_CASE("recovery: a node killed at any crash point is recovered by the others", "[recovery][crash]") {
  for (const CrashPointInfo& info : crash_points()) {
    if (info.name.starts_with("leave.")) continue;
    DYNAMIC_SECTION("victim holds no directory copy, dies at " << info.name) {
      crash_point_recovery(info, {0, 1, 2, 3}, 3);
    }
    DYNAMIC_SECTION("victim holds the directory primary, dies at " << info.name) {
      crash_point_recovery(info, {2, 0, 1, 3}, 2);
    }
    DYNAMIC_SECTION("victim holds the directory replica, dies at " << info.name) {
      crash_point_recovery(info, {0, 1, 2, 3}, 1);
    }
  }
}

TEST_CASE("recovery: a node stopped at any crash point touches nothing when it resumes, and rejoins",
          "[recovery][fencing]") {
  for (const CrashPointInfo& info : crash_points()) {
    if (info.name.starts_with("leave.")) continue;  // stopped in their own matrix
    DYNAMIC_SECTION("victim holds the directory primary, stops at " << info.name) {
      crash_point_stop_and_resume(info, {2, 0, 1, 3}, 2);
    }
  }
}

TEST_CASE_METHOD(Cluster, "recovery: the coordinator dying in the middle of recovery is recovered too", "[recovery]") {
  // Node 0 coordinates and will die inside the first close it runs: the
  // removal of node 3's share during recovery.
  nodes[0] = spawn_node(t, 0, {}, "close.sharer_releasing");
  nodes[1] = spawn_node(t, 1);
  nodes[2] = spawn_node(t, 2);
  nodes[3] = spawn_node(t, 3, [](Node& n) { (void)n.allocate("x", 4096, Placement::on(1)); });
  REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111) && find_section(*t.pool, "x").entry; }));
  kill(3);
  const int status = nodes[0].wait();  // dies during recovery
  CHECK(WIFSIGNALED(status));
  REQUIRE(wait_until([&] {
    return node_state(*t.pool, 0) == NodeState::kAbsent && node_state(*t.pool, 3) == NodeState::kAbsent &&
           recovered(*t.pool, EventKind::kNodeFailed, 0);
  }));
  CHECK(find_section(*t.pool, "x").entry == nullptr);
  require_clean_then_empty();
}

TEST_CASE_METHOD(Cluster,
                 "recovery: a node paused in a busy stream of transactions is expelled, touches nothing when it "
                 "resumes, and rejoins",
                 "[recovery][fencing]") {
  for (std::uint32_t id : {0u, 1u, 3u}) nodes[id] = spawn_node(t, id);
  // Node 2 keeps allocating and closing in a thread, so the pause (at its
  // next step boundary) hits it in the middle of a transaction, perhaps
  // holding a lock.
  nodes[2] = spawn_node(t, 2, [](Node& n) {
    (void)n.allocate("held-by-2", 4096, Placement::local());
    std::thread([&n] {
      for (std::uint64_t i = 0;; ++i) {
        auto s = n.allocate("", 4096 * (1 + i % 4), Placement::on(static_cast<std::uint32_t>(i % 4)));
        if (s) (void)n.close(s->gid);
      }
    }).detach();
  });
  REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111) && find_section(*t.pool, "held-by-2").entry; }));
  std::this_thread::sleep_for(50ms);
  const std::uint32_t incarnation = t.pool->node_slot(2).incarnation;
  stop_at_next_step(nodes[2]);
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 2); }));
  CHECK(find_section(*t.pool, "held-by-2").entry == nullptr);
  REQUIRE_POOL_CLEAN(*t.pool);
  nodes[2].kill(SIGCONT);
  REQUIRE(wait_until([&] {
    return node_state(*t.pool, 2) == NodeState::kMember && t.pool->node_slot(2).incarnation > incarnation;
  }));
  std::this_thread::sleep_for(100ms);  // the rejoined node works again
  stop_all();
  require_empty(t);
}

TEST_CASE_METHOD(Cluster,
                 "recovery: memory loss of a node drops its sections and the directory survives on the other copy",
                 "[recovery][memory-loss]") {
  nodes = start_sharing_cluster(t, 0);  // node 0 holds the directory primary
  REQUIRE(declare_memory_lost(*t.pool, 0).ok());
  CHECK(declare_memory_lost(*t.pool, 0).error().code == Errc::kExists);
  // The orchestrator scribbles over the lost partition.
  std::memset(static_cast<void*>(&t.pool->partition(0)), 0xDB, t.pool->superblock().data_offset);
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kMemoryLost, 0); }));
  CHECK(t.pool->cluster().dir_primary != 0);
  CHECK(t.pool->cluster().dir_replica != 0);
  CHECK(find_section(*t.pool, "shared-0").entry == nullptr);  // lived on node 0
  CHECK(find_section(*t.pool, "remote-0").entry != nullptr);  // lives on node 1
  require_clean_then_empty();
}

namespace {

// A cluster whose nodes leave `GraceMs` after they are asked to (their
// applications are told first).
template <std::uint32_t GraceMs>
struct LeaveGrace : Cluster {
  LeaveGrace() : Cluster(leave_geometry()) {}
  static Geometry leave_geometry() {
    Geometry g = test_geometry();
    g.leave_grace_ms = GraceMs;
    return g;
  }
};

}  // namespace

TEST_CASE_METHOD(LeaveGrace<300>,
                 "recovery: a planned leave tells applications first, then revokes after the grace period",
                 "[recovery][leave]") {
  nodes = start_sharing_cluster(t, 3);
  REQUIRE(request_leave(*t.pool, 3).ok());
  const std::uint64_t asked = realtime_ns();
  const int status = nodes[3].wait();  // node 3 leaves by itself after the grace period
  CHECK(WIFEXITED(status));
  CHECK(realtime_ns() - asked >= 300'000'000ull);
  // Then the coordinator revokes what is left of its memory.
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeLeaving, 3); }));
  const auto record = latest_record(*t.pool, EventKind::kNodeLeaving);
  CHECK(record.node == 3);
  CHECK(record.tables_recovered_ns - record.declared_ns >= 300'000'000ull);
  CHECK(node_state(*t.pool, 3) == NodeState::kAbsent);
  CHECK(find_section(*t.pool, "only-3").entry == nullptr);
  // Homed on node 3 and shared by the others: revoked with its memory.
  CHECK(find_section(*t.pool, "shared-3").entry == nullptr);
  // Homed on node 0: node 3's share closed, the others' stay.
  CHECK(sharer_nodes(*t.pool, find_section(*t.pool, "remote-3")) == 0b0111);
  require_clean_then_empty();
}

namespace {

bool partition_empty(const Pool& pool, std::uint32_t node) {
  return pool.partition(node).free_count == 1 && pool.free_table(node)[0].length == pool.superblock().data_size;
}

bool leaving_mark(const Pool& pool, std::uint32_t node) {
  return (load_acquire(pool.cluster().leaving) & (1ull << node)) != 0;
}

}  // namespace

TEST_CASE_METHOD(LeaveGrace<50>,
                 "recovery: after a planned leave nothing homed on the node is listed and its memory waits for its "
                 "rejoin",
                 "[recovery][leave]") {
  SharedFlag refused, placed_again;
  nodes[3] = spawn_node(t, 3, [](Node& n) { (void)n.allocate("homed-3", 8192, Placement::local()); });
  REQUIRE(wait_until([&] { return find_section(*t.pool, "homed-3").entry != nullptr; }));
  nodes[0] = spawn_node(t, 0, [](Node& n) { (void)n.open("homed-3"); });
  const Pool* pool = t.pool.get();
  nodes[1] = spawn_node(t, 1, [pool, &refused, &placed_again](Node& n) {
    // Once node 3 has left: its memory takes nothing, until it is back.
    if (!wait_until([&] { return recovered(*pool, EventKind::kNodeLeaving, 3); }, 60s)) return;
    auto early = n.allocate("too-early", 4096, Placement::on(3));
    if (!early && early.error().code == Errc::kNoSpace) refused.set();
    if (!wait_until([&] { return node_state(*pool, 3) == NodeState::kMember; }, 60s)) return;
    if (auto again = n.allocate("placed-again", 4096, Placement::on(3)); again && again->home_node == 3) {
      (void)n.close(again->gid);
      placed_again.set();
    }
  });
  nodes[2] = spawn_node(t, 2);
  REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111); }));
  REQUIRE(wait_until([&] { return sharer_nodes(*t.pool, find_section(*t.pool, "homed-3")) == 0b1001; }));

  REQUIRE(request_leave(*t.pool, 3).ok());
  CHECK(WIFEXITED(nodes[3].wait()));
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeLeaving, 3); }));
  CHECK(find_section(*t.pool, "homed-3").entry == nullptr);  // revoked: node 0's share too
  CHECK(partition_empty(*t.pool, 3));
  CHECK(leaving_mark(*t.pool, 3));  // until it rejoins
  REQUIRE(wait_until([&] { return refused.is_set(); }));
  REQUIRE_POOL_CLEAN(*t.pool);

  nodes[3] = spawn_node(t, 3);
  REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111); }));
  CHECK_FALSE(leaving_mark(*t.pool, 3));
  REQUIRE(wait_until([&] { return placed_again.is_set(); }));
  require_clean_then_empty();
}

namespace {

struct LeaveRevocation : LeaveGrace<50> {
  // Node 3 leaves; the coordinator (node 0) fails at `spec` while revoking
  // what the others still share of node 3's memory. The next coordinator
  // recovers node 0 and finishes the revocation.
  void leave_revocation_crash(const std::string& spec, CrashAction action);
};

void LeaveRevocation::leave_revocation_crash(const std::string& spec, CrashAction action) {
  nodes[3] = spawn_node(t, 3, [](Node& n) {
    (void)n.allocate("homed-a", 8192, Placement::local());
    (void)n.allocate("homed-b", 4096, Placement::local());
  });
  REQUIRE(wait_until([&] { return find_section(*t.pool, "homed-b").entry != nullptr; }));
  auto open_both = [](Node& n) {
    (void)n.open("homed-a");
    (void)n.open("homed-b");
  };
  nodes[0] = spawn_node(t, 0, open_both, spec.c_str());
  nodes[1] = spawn_node(t, 1, open_both);
  nodes[2] = spawn_node(t, 2, [](Node& n) { (void)n.open("homed-a"); });
  REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111); }));
  REQUIRE(wait_until([&] {
    return sharer_nodes(*t.pool, find_section(*t.pool, "homed-a")) == 0b1111 &&
           sharer_nodes(*t.pool, find_section(*t.pool, "homed-b")) == 0b1011;
  }));
  const std::uint32_t incarnation = t.pool->node_slot(0).incarnation;

  REQUIRE(request_leave(*t.pool, 3).ok());
  CHECK(WIFEXITED(nodes[3].wait()));
  if (action == CrashAction::kKill) {
    const int status = nodes[0].wait();
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
  } else {
    REQUIRE(stopped(nodes[0]));
  }
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 0); }));
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeLeaving, 3); }));
  CHECK(find_section(*t.pool, "homed-a").entry == nullptr);
  CHECK(find_section(*t.pool, "homed-b").entry == nullptr);
  CHECK(partition_empty(*t.pool, 3));
  CHECK(leaving_mark(*t.pool, 3));
  REQUIRE_POOL_CLEAN(*t.pool);
  if (action == CrashAction::kStop) {
    nodes[0].kill(SIGCONT);  // touches nothing, rejoins
    REQUIRE(wait_until([&] {
      return node_state(*t.pool, 0) == NodeState::kMember && t.pool->node_slot(0).incarnation > incarnation;
    }));
    REQUIRE_POOL_CLEAN(*t.pool);
    CHECK(partition_empty(*t.pool, 3));
  }
  nodes[3] = spawn_node(t, 3);
  REQUIRE(wait_until([&] { return node_state(*t.pool, 3) == NodeState::kMember; }));
  CHECK_FALSE(leaving_mark(*t.pool, 3));
  require_clean_then_empty();
}

}  // namespace

TEST_CASE_METHOD(LeaveRevocation,
                 "recovery: a coordinator that fails at any step of a leave's revocation is recovered and the "
                 "revocation finished",
                 "[recovery][leave][crash]") {
  for (const CrashPointInfo& info : crash_points()) {
    if (!info.name.starts_with("leave.")) continue;
    DYNAMIC_SECTION("coordinator killed at " << info.name) {
      leave_revocation_crash(std::string(info.name), CrashAction::kKill);
    }
    DYNAMIC_SECTION("coordinator stopped at " << info.name << ", resumed after its recovery") {
      leave_revocation_crash(std::string(info.name) + ":1:stop", CrashAction::kStop);
    }
  }
  SECTION("coordinator killed inside one of the revocation's close transactions") {
    leave_revocation_crash("close.committing", CrashAction::kKill);
  }
}

TEST_CASE_METHOD(Cluster, "recovery: a node asked to leave that fails instead does not leave again when restarted",
                 "[recovery][leave]") {
  nodes = start_sharing_cluster(t, 2);
  kill(2);
  REQUIRE(request_leave(*t.pool, 2).ok());  // still a member until detected
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kNodeFailed, 2); }));
  CHECK((load_acquire(t.pool->cluster().leaving) & 0b100) == 0);
  REQUIRE(wait_until([&] { return latest_record(*t.pool, EventKind::kNodeLeaving).tables_recovered_ns != 0; }));
  nodes[2] = spawn_node(t, 2);
  REQUIRE(wait_until([&] { return all_members(*t.pool, 0b1111); }));
  std::this_thread::sleep_for(300ms);
  CHECK(all_members(*t.pool, 0b1111));  // it stayed
  stop_all();
  require_empty(t);
}

TEST_CASE_METHOD(Cluster, "recovery: the checker asks for no replica when no other member has intact memory",
                 "[recovery][memory-loss]") {
  nodes = start_sharing_cluster(t, 0);
  REQUIRE(declare_memory_lost(*t.pool, 1).ok());
  REQUIRE(wait_until([&] { return recovered(*t.pool, EventKind::kMemoryLost, 1); }));
  for (std::uint32_t victim : {2u, 3u}) {
    kill_and_await_recovery(victim);
  }
  // Members left: 0 (intact) and 1 (memory lost): no replica is possible.
  CHECK(load_acquire(t.pool->cluster().dir_replica) == kNoNode);
  require_clean_then_empty();
}
