// Node processes for recovery tests: each child maps the pool, starts the
// node's liveness thread, joins, starts its agent thread (gmmd's two
// threads, gmm/node_threads.hpp), runs a scripted step on its main thread
// and stays until SIGTERM. The parent injects faults with signals and
// watches the pool. Cluster, at the end, is a test's pool and nodes.
#pragma once

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <initializer_list>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "gmm/atomic.hpp"
#include "gmm/crash.hpp"
#include "gmm/membership.hpp"
#include "gmm/node_threads.hpp"
#include "directory.hpp"
#include "pool_fixture.hpp"

namespace gmm::test {

inline volatile std::sig_atomic_t g_stop = 0;

using Script = std::function<void(Node&)>;

// Child body; never returns. Like gmmd: liveness from before join, the
// agent (recovery, events, rejoin when expelled) once joined, the script on
// the main thread.
[[noreturn]] inline void node_process(const std::string& path, std::uint32_t id, const Script& script,
                                      const char* crash_spec) {
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  // The test's "pause": stop at the node's next step boundary (see stop_at_next_step).
  std::signal(SIGUSR1, [](int) { crash_arm_any(CrashAction::kStop); });
  auto mapping = map_pool_file(path);
  if (!mapping) ::_exit(3);
  auto pool = Pool::attach(*mapping.value());
  if (!pool) ::_exit(4);
  Node node(pool.value(), id);
  PollingDoorbell doorbell;
  Messenger messenger(pool.value(), id, doorbell);
  LivenessThread liveness(node, &messenger);
  if (!node.join()) ::_exit(5);
  EventService events;
  if (crash_spec != nullptr && !crash_arm_from_spec(crash_spec)) ::_exit(6);
  AgentThread agent(node, events, messenger, [] { ::_exit(0); });
  if (script) script(node);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // SIGTERM may land on any thread
  agent.stop();
  node.leave();
  liveness.stop();
  ::_exit(0);
}

// Owns a node child: a test that fails half-way (REQUIRE throws) still
// kills and reaps it, so no orphan holds ctest's output pipe open.
class NodeProcess {
 public:
  NodeProcess() = default;
  explicit NodeProcess(pid_t pid) : pid(pid) {}
  NodeProcess(NodeProcess&& other) noexcept : pid(std::exchange(other.pid, -1)) {}
  // Takes `other`'s child; the one this held goes with `other` (reaped).
  NodeProcess& operator=(NodeProcess other) noexcept {
    std::swap(pid, other.pid);
    return *this;
  }
  ~NodeProcess() { reap(); }

  void kill(int sig = SIGKILL) const { ::kill(pid, sig); }
  int wait() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }

  pid_t pid = -1;

 private:
  void reap() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

// Waits until `p` has stopped (SIGSTOP; here the crash action "stop").
inline bool stopped(NodeProcess& p) {
  int status = 0;
  return ::waitpid(p.pid, &status, WUNTRACED) == p.pid && WIFSTOPPED(status);
}

// Pauses a busy node at its next step boundary (crash point) rather than at
// a random instruction: stopped between a fencing check and the stores it
// guards, a node that resumes after being expelled would still complete
// those stores (docs/design.md, "Fencing": only the platform's fence closes
// that window). At a step boundary the next thing it does is a check.
inline void stop_at_next_step(NodeProcess& p) {
  p.kill(SIGUSR1);
  REQUIRE(stopped(p));
}

inline NodeProcess spawn_node(const TempPool& t, std::uint32_t id, Script script = {},
                              const char* crash_spec = nullptr) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) node_process(t.path, id, script, crash_spec);
  return NodeProcess(pid);
}

// A flag the parent and its node children share (an anonymous shared
// page mapped before the fork): a child's script says "I got there".
class SharedFlag {
 public:
  SharedFlag()
      : word_(static_cast<std::atomic<int>*>(
            ::mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0))) {
    REQUIRE(word_ != MAP_FAILED);
    new (word_) std::atomic<int>(0);
  }
  ~SharedFlag() { ::munmap(word_, sizeof(std::atomic<int>)); }
  SharedFlag(const SharedFlag&) = delete;
  SharedFlag& operator=(const SharedFlag&) = delete;
  void set() const { word_->store(1); }
  bool is_set() const { return word_->load() != 0; }

 private:
  std::atomic<int>* word_;
};

// Polls `done` every millisecond until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

// Tests tolerate a loaded 2-core machine: 10 ms beats, 30 missed = 300 ms.
inline Geometry test_geometry() {
  return Geometry{.node_count = 4, .heartbeat_period_us = 10'000, .miss_threshold = 30};
}

struct Section {
  const layout::DirEntry* entry = nullptr;
  std::uint64_t gid = 0;
};

// A committed section by name, read from the directory directly (the
// parent is not a node); entry == nullptr when there is none.
inline Section find_section(const Pool& pool, std::string_view name) {
  const std::uint32_t slot = dir::find_name(pool, name);
  if (slot == layout::kNoIndex) return {};
  const layout::DirEntry& e = dir::entry(pool, slot);
  if (load_state<layout::EntryState>(e.state) != layout::EntryState::kCommitted) return {};
  return {&e, dir::gid_of(e, slot)};
}

// The nodes holding a share of `s` (a bit each).
inline std::uint64_t sharer_nodes(const Pool& pool, const Section& s) {
  std::uint64_t mask = 0;
  for (const layout::SharerEntry& sh : pool.sharers(s.entry->home_node))
    if (load_state<layout::EntryState>(sh.state) != layout::EntryState::kFree && sh.gid == s.gid)
      mask |= 1ull << sh.node;
  return mask;
}

inline layout::NodeState node_state(const Pool& pool, std::uint32_t id) {
  return load_state<layout::NodeState>(pool.node_slot(id).state);
}

inline bool all_members(const Pool& pool, std::uint64_t mask) {
  return (load_acquire(pool.cluster().members) & mask) == mask;
}

// True once the newest record of `kind` for `node` has its tables recovered
// and survivors have finished. The newest for `node`, not the newest of all:
// on a loaded machine a healthy survivor can be expelled (and rejoin) after
// the victim, and its record must not hide the victim's. Such a survivor
// never finishes the victim's record either, so "all survivors" would wait
// for ever: at least one finished is required.
inline bool recovered(const Pool& pool, layout::EventKind kind, std::uint32_t node) {
  const std::uint64_t events = load_acquire(pool.cluster().events);
  for (std::uint64_t seq = events; seq > 0 && events - seq < layout::kRecoveryRecords; --seq) {
    const layout::RecoveryRecord& r = pool.recovery(seq);
    if (load_acquire(r.sequence) != seq || static_cast<layout::EventKind>(r.kind) != kind || r.node != node) continue;
    if (load_acquire(r.tables_recovered_ns) == 0) return false;
    const std::uint64_t alive = load_acquire(pool.cluster().members);
    const std::uint64_t survivors = load_acquire(r.survivors);
    return (load_acquire(r.done) & survivors) != 0 || (survivors & alive) == 0;
  }
  return false;
}

// After every node left cleanly, nothing may remain allocated.
inline void require_empty(const TempPool& t) {
  for (std::uint32_t n = 0; n < t.pool->node_count(); ++n) {
    if (t.pool->partition_lost(n)) continue;
    INFO("node " << n);
    CHECK(t.pool->partition(n).free_count == 1);
    CHECK(t.pool->free_table(n)[0].length == t.pool->superblock().data_size);
  }
  REQUIRE_POOL_CLEAN(*t.pool);
}

// A recovery test's cluster, as a fixture (TEST_CASE_METHOD(Cluster, ...)):
// a fresh pool (test_geometry() unless given) and its four node processes,
// started by the test (spawn_node, start_members); those still running at
// the end are killed and reaped before the pool file goes.
struct Cluster {
  explicit Cluster(const Geometry& geometry = test_geometry()) : t(64ull << 20, geometry, "cluster") {}

  // Starts these nodes and returns once each has finished join(): a node is
  // published as a member before its join cleanup (resolving transactions,
  // repairing locks, sweeping reservations) takes the table locks, and a test
  // that starts a fault must not have a joiner still waiting on a lock.
  void start_members(std::initializer_list<std::uint32_t> ids) {
    std::vector<std::unique_ptr<SharedFlag>> joined;
    for (std::uint32_t id : ids) {
      joined.push_back(std::make_unique<SharedFlag>());
      const SharedFlag* flag = joined.back().get();
      nodes[id] = spawn_node(t, id, [flag](Node&) { flag->set(); });  // the script runs after join() returned
    }
    REQUIRE(wait_until([&] {
      return std::all_of(joined.begin(), joined.end(), [](const auto& flag) { return flag->is_set(); });
    }));
  }

  // Kills node `id` (SIGKILL, an OS crash) and reaps it; returns the
  // incarnation that died.
  std::uint32_t kill(std::uint32_t id) {
    const std::uint32_t incarnation = t.pool->node_slot(id).incarnation;
    nodes[id].kill();
    nodes[id].wait();
    return incarnation;
  }

  // Kills node `id` and waits until the survivors have recovered it.
  void kill_and_await_recovery(std::uint32_t id) {
    kill(id);
    REQUIRE(wait_until([&] { return recovered(*t.pool, layout::EventKind::kNodeFailed, id); }));
  }

  // SIGTERM to every running node; returns once they have all left.
  void stop_all() {
    for (auto& p : nodes)
      if (p.pid > 0) p.kill(SIGTERM);
    for (auto& p : nodes)
      if (p.pid > 0) p.wait();
  }

  // The end of a recovery test: the pool is clean with the nodes running,
  // and empty once they all left.
  void require_clean_then_empty() {
    REQUIRE_POOL_CLEAN(*t.pool);
    stop_all();
    require_empty(t);
  }

  TempPool t;
  std::vector<NodeProcess> nodes = std::vector<NodeProcess>(4);
};

}  // namespace gmm::test
