// Node processes for recovery tests: each child maps the pool, joins, runs
// a scripted start-up step, then ticks its ClusterAgent every period (and
// rejoins if expelled) until SIGTERM. The parent injects faults with
// signals and watches the pool.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <thread>
#include <utility>

#include "gmm/atomic.hpp"
#include "gmm/crash.hpp"
#include "gmm/membership.hpp"
#include "pool_fixture.hpp"

namespace gmm::test {

inline volatile std::sig_atomic_t g_stop = 0;

using Script = std::function<void(Node&)>;

// Child body; never returns. Like gmmd: the agent ticks in its own thread
// (rejoining if expelled) while the main thread runs the script.
[[noreturn]] inline void node_process(const std::string& path, std::uint32_t id, const Script& script,
                                      const char* crash_spec) {
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  auto mapping = map_pool_file(path);
  if (!mapping) ::_exit(3);
  auto pool = Pool::attach(*mapping.value());
  if (!pool) ::_exit(4);
  Node node(pool.value(), id);
  if (!node.join()) ::_exit(5);
  EventService events;
  PollingDoorbell doorbell;
  Messenger messenger(pool.value(), id, doorbell);
  ClusterAgent agent(node, events, &messenger);
  if (crash_spec != nullptr && !crash_arm_from_spec(crash_spec)) ::_exit(6);
  std::thread ticker([&] {
    while (!g_stop) {
      auto result = agent.tick();
      if (result == ClusterAgent::TickResult::kLeft) ::_exit(0);
      if (result == ClusterAgent::TickResult::kExpelled && node.join()) agent.reset();  // fenced: rejoin
      messenger.doorbell().wait(agent.period());
    }
  });
  if (script) script(node);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // SIGTERM may land on any thread
  node.leave();
  ::_exit(0);
}

// Owns a node child: a test that fails half-way (REQUIRE throws) still
// kills and reaps it, so no orphan holds ctest's output pipe open.
class NodeProcess {
 public:
  NodeProcess() = default;
  explicit NodeProcess(pid_t pid) : pid(pid) {}
  NodeProcess(NodeProcess&& other) noexcept : pid(std::exchange(other.pid, -1)) {}
  NodeProcess& operator=(NodeProcess&& other) noexcept {
    if (this != &other) {
      reap();
      pid = std::exchange(other.pid, -1);
    }
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

inline NodeProcess spawn_node(const TempPool& t, std::uint32_t id, Script script = {},
                              const char* crash_spec = nullptr) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) node_process(t.path, id, script, crash_spec);
  return NodeProcess(pid);
}

// Polls `done` every millisecond until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
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

inline void stop_all(std::vector<NodeProcess>& nodes) {
  for (auto& p : nodes)
    if (p.pid > 0) p.kill(SIGTERM);
  for (auto& p : nodes)
    if (p.pid > 0) p.wait();
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

}  // namespace gmm::test
