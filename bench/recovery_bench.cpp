// Failure detection and recovery (paper 3.4 and section 6: 10.2 ms to
// recover GMM for one shared region, linear up to 64). Node processes run
// a ClusterAgent each, as gmmd does; one of them holds k shared sections
// and is SIGKILLed; the RecoveryRecord written by the survivors gives the
// timeline:
//
//   kill ........ declared_ns ........ tables_recovered_ns ..... max(finished_ns)
//   |<- detection ->|<- table recovery (coordinator) ->|
//                   |<------------------- recovery --------------------->|
//
// Each agent has a Messenger (as gmmd and the core's cluster harness do), so
// a declaration and a finished table recovery are broadcast as
// view-changed. range(1) picks the doorbell behind it: 0 = PollingDoorbell
// (the core's, rings nobody: every step waits for the next tick), 1 = the
// ivshmem server's eventfds (gmm::ivshmem::ClientDoorbell, what gmmd uses in
// process mode: the receivers wake at once).
//
// The second benchmark times only the coordinator's table work
// (Node::recover_failed_nodes) in one process, without heartbeats, to
// separate the cost of the work from the cost of the waiting around it.
#include <csignal>
#include <random>
#include <thread>

#include "bench_support.hpp"
#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include "gmm/membership.hpp"
#include "gmm/messages.hpp"
#include "gmm/node_threads.hpp"
#include "gmm/platform.hpp"
#include "ivshmem/ivshmem_doorbell.hpp"
#include "ivshmem_server.hpp"

namespace gmm::bench {
namespace {

using layout::EventKind;
using layout::NodeState;
using layout::RecoveryRecord;

constexpr std::uint32_t kNodes = 4;

// Node 3 fails, as in the paper's experiment (the fourth node); its ring
// predecessor, node 2, declares it and node 0 (lowest live id) coordinates.
// GMM_BENCH_VICTIM=1 makes the declarer also the coordinator.
std::uint32_t victim_node() { return static_cast<std::uint32_t>(env_u64("GMM_BENCH_VICTIM", 3) % kNodes); }

// The pool's membership settings: Geometry's defaults (10 ms heartbeat,
// 5 missed), the period overridable with GMM_BENCH_HEARTBEAT_US to show
// how detection and recovery scale with it.
Geometry cluster_geometry() {
  Geometry geometry;
  geometry.heartbeat_period_us = static_cast<std::uint32_t>(heartbeat_period_us());
  return geometry;
}

std::string section_name(std::uint64_t i) { return fmt::format("shared-{:03}", i); }

volatile std::sig_atomic_t g_stop = 0;

// The doorbells of process mode: the ivshmem server (in gmm-host's clusters
// the gmm-ivshmem-server process; here the same server in a thread of the
// parent) with one socket per node, peer id == node id. Each node process
// connects after fork and rings its peers through the eventfds it hands out.
class DoorbellServer {
 public:
  explicit DoorbellServer(const std::string& pool_path) : prefix_(fmt::format("/tmp/gmm-bench-{}", ::getpid())) {
    host::vm::IvshmemServer::Options options;
    options.shm_path = pool_path;
    options.vectors = ivshmem::kGmmVectors;
    options.retain_peers = true;  // as gmm-host runs it
    for (std::uint32_t id = 0; id < kNodes; ++id)
      options.listeners.push_back({socket(id), static_cast<std::uint16_t>(id)});
    server_ = expect(host::vm::IvshmemServer::create(std::move(options)), "start the ivshmem server");
    loop_ = std::thread([this] { (void)server_->run(); });
  }
  ~DoorbellServer() {
    server_->stop();
    loop_.join();
  }
  DoorbellServer(const DoorbellServer&) = delete;
  DoorbellServer& operator=(const DoorbellServer&) = delete;

  // (Named after the parent: node processes call this after fork.)
  std::string socket(std::uint32_t node) const { return fmt::format("{}-node{}.ivshmem", prefix_, node); }

 private:
  std::string prefix_;
  std::unique_ptr<host::vm::IvshmemServer> server_;
  std::thread loop_;
};

struct ClusterControl {
  std::atomic<int> allocated{0};  // the victim made its k sections
  std::atomic<int> opened{0};     // survivors that opened all k
};

// A node process (like gmmd, or common/tests/cluster_harness.hpp): start
// the node's liveness thread, join, allocate or open the shared sections,
// then run its agent thread until SIGTERM, and leave. Exit codes name the
// step that failed.
[[noreturn]] void node_process(const Pool& pool, std::uint32_t id, std::uint32_t victim, std::uint64_t k,
                               ClusterControl& control, const DoorbellServer* server) {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  ::sigaction(SIGTERM, &sa, nullptr);
  Node node(pool, id);
  PollingDoorbell polling;
  std::unique_ptr<Doorbell> ivshmem;
  if (server != nullptr) {
    auto connected = ivshmem::ClientDoorbell::connect(server->socket(id), static_cast<std::uint16_t>(id));
    if (!connected) ::_exit(14);
    ivshmem = std::move(*connected);
  }
  Messenger messenger(pool, id, ivshmem ? *ivshmem : static_cast<Doorbell&>(polling));
  // Start ticking at a random phase of the period: nodes of a real cluster
  // boot independently, while these were forked within a millisecond, and
  // the phases between declarer, coordinator and survivors decide how many
  // periods recovery waits (docs/benchmarks.md).
  std::mt19937_64 random(realtime_ns() ^ (std::uint64_t{id} << 32));
  const std::uint64_t period_us = load_acquire(pool.cluster().heartbeat_period_us);
  std::this_thread::sleep_for(std::chrono::microseconds(random() % period_us));
  LivenessThread liveness(node, &messenger);
  if (!node.join()) ::_exit(10);
  if (id == victim) {
    for (std::uint64_t i = 0; i < k; ++i)
      if (!node.allocate(section_name(i), 4096, Placement::local())) ::_exit(11);
    control.allocated.store(1);
  } else {
    for (std::uint64_t i = 0; i < k; ++i)
      if (!node.open(section_name(i))) ::_exit(12);
    control.opened.fetch_add(1);
  }
  EventService events;
  const std::uint32_t incarnation = node.incarnation();
  AgentThread agent(node, events, messenger, [] { ::_exit(0); });
  while (!g_stop) {
    if (!node.is_member() || node.incarnation() != incarnation) ::_exit(13);  // a survivor must not be expelled here
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  agent.stop();
  node.leave();
  liveness.stop();
  ::_exit(0);
}

struct Timeline {
  double detection_ms;     // kill -> declared
  double beat_gap_ms;      // last heartbeat seen -> declared
  double tables_ms;        // declared -> tables recovered
  double recovery_ms;      // declared -> last survivor finished
};

// One experiment on a fresh pool: start 4 node processes, make k sections of
// the victim shared by all, kill the victim, wait for the survivors to finish.
Timeline kill_and_recover(std::uint64_t k, std::uint32_t victim, bool doorbell) {
  TempPool pool("recovery", cluster_geometry());
  SharedObject<ClusterControl> control;
  std::optional<DoorbellServer> doorbells;
  if (doorbell) doorbells.emplace(pool.path());
  const DoorbellServer* server = doorbells ? &*doorbells : nullptr;
  Children children;
  std::vector<std::size_t> child_of(kNodes);
  child_of[victim] = children.spawn([&] { node_process(pool.pool(), victim, victim, k, *control, server); });
  wait_for(children, "the victim's sections", [&] { return control->allocated.load() == 1; });
  for (std::uint32_t id = 0; id < kNodes; ++id)
    if (id != victim) child_of[id] = children.spawn([&, id] { node_process(pool.pool(), id, victim, k, *control, server); });
  const std::uint64_t all = (std::uint64_t{1} << kNodes) - 1;
  wait_for(children, "the survivors to open every section", [&] {
    return control->opened.load() == static_cast<int>(kNodes - 1) && load_acquire(pool.pool().cluster().members) == all;
  });
  // Let every watcher see its successor beat for a while (10 periods).
  sleep_us(10 * static_cast<long>(load_acquire(pool.pool().cluster().heartbeat_period_us)));
  children.check_all_alive();

  const std::uint64_t killed_ns = realtime_ns();
  children.stop(child_of[victim], SIGKILL);
  RecoveryRecord record{};
  wait_for(children, "the survivors to recover", [&] {
    record = latest_record(pool.pool(), EventKind::kNodeFailed);
    return record.sequence != 0 && record.node == victim && record.tables_recovered_ns != 0 &&
           (record.done & record.survivors) == record.survivors;
  });
  std::uint64_t finished_ns = 0;
  for (std::uint32_t id = 0; id < kNodes; ++id)
    if ((record.survivors >> id) & 1) finished_ns = std::max(finished_ns, record.finished_ns[id]);

  for (std::uint32_t id = 0; id < kNodes; ++id) {
    if (id == victim) continue;
    if (int status = children.stop(child_of[id], SIGTERM); !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw BenchError(fmt::format("survivor {} failed: {}", id, Children::describe(status)));
  }
  auto diff = [](std::uint64_t later, std::uint64_t earlier) {
    return ns_to_ms(static_cast<std::int64_t>(later) - static_cast<std::int64_t>(earlier));
  };
  return Timeline{diff(record.declared_ns, killed_ns), diff(record.declared_ns, record.last_beat_ns),
                  diff(record.tables_recovered_ns, record.declared_ns), diff(finished_ns, record.declared_ns)};
}

void set_summary(benchmark::State& state, const char* prefix, const std::vector<double>& samples_ms) {
  state.counters[fmt::format("{}_p50_ms", prefix)] = percentile(samples_ms, 50);
  state.counters[fmt::format("{}_p99_ms", prefix)] = percentile(samples_ms, 99);
}

// Detection and recovery in process mode for k = range(0) shared sections
// held by the failed node, doorbell = range(1). Iteration time (manual) =
// recovery time, so the Time column is its mean; counters give medians and
// p99 (nearest rank).
void BM_KillRecover(benchmark::State& state) {
  guarded(state, [&] {
    const auto k = static_cast<std::uint64_t>(state.range(0));
    const bool doorbell = state.range(1) != 0;
    const std::uint32_t victim = victim_node();
    std::vector<double> detection, beat_gap, tables, recovery;
    for (auto _ : state) {
      const Timeline t = kill_and_recover(k, victim, doorbell);
      detection.push_back(t.detection_ms);
      beat_gap.push_back(t.beat_gap_ms);
      tables.push_back(t.tables_ms);
      recovery.push_back(t.recovery_ms);
      state.SetIterationTime(std::max(t.recovery_ms, 0.0) / 1e3);
    }
    set_summary(state, "detect", detection);
    set_summary(state, "beat_gap", beat_gap);
    set_summary(state, "tables", tables);
    set_summary(state, "recover", recovery);
    const Geometry geometry = cluster_geometry();
    state.counters["hb_period_ms"] = geometry.heartbeat_period_us / 1000.0;
    state.counters["miss_threshold"] = geometry.miss_threshold;
    state.SetLabel(fmt::format("4 node processes, node {} killed, {} shared 4 KiB sections, {} doorbell", victim, k,
                               doorbell ? "ivshmem" : "polling"));
  });
}
BENCHMARK(BM_KillRecover)
    ->ArgNames({"k", "doorbell"})
    ->ArgsProduct({{1, 64}, {0, 1}})
    ->Iterations(static_cast<benchmark::IterationCount>(recovery_reps()))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The coordinator's table work alone, in one process without agents: on a
// fresh pool node 3 joins first (so it holds the primary directory copy,
// as the victim of BM_KillRecover does), nodes 0..2 join and open its k
// sections; node 3 is marked Failed as declare_failed would, then node 0's
// recover_failed_nodes({3}) is timed: resolve its transactions, repair its
// locks, drop its sharer entries (scanning every partition's sharer
// table), move the directory copy off it. range(1) = 1 evicts the CPU
// caches first (writes 64 MiB), as happens to a coordinator that slept a
// heartbeat period while other processes ran; 0 leaves them warm from the
// set-up, which touched the same tables.
void BM_RecoverTablesOnly(benchmark::State& state) {
  guarded(state, [&] {
    const auto k = static_cast<std::uint64_t>(state.range(0));
    const bool cold = state.range(1) != 0;
    std::vector<char> scratch(cold ? 64u << 20 : 0);
    std::vector<double> samples;
    for (auto _ : state) {
      TempPool pool("tables");
      std::vector<std::unique_ptr<Node>> nodes(kNodes);
      for (std::uint32_t id : {3u, 0u, 1u, 2u}) nodes[id] = pool.join(id);
      for (std::uint64_t i = 0; i < k; ++i) {
        expect(nodes[3]->allocate(section_name(i), 4096, Placement::local()), "allocate");
        for (std::uint32_t id = 0; id < 3; ++id) expect(nodes[id]->open(section_name(i)), "open");
      }
      layout::ClusterHeader& c = pool.pool().cluster();
      publish_state(pool.pool().node_slot(3).state, NodeState::kFailed);
      store_release(c.members, load_acquire(c.members) & ~std::uint64_t{8});
      if (cold) {
        for (std::size_t i = 0; i < scratch.size(); i += 64) scratch[i] = static_cast<char>(scratch[i] + 1);
        benchmark::ClobberMemory();
      }

      const std::uint64_t start = monotonic_ns();
      expect(nodes[0]->recover_failed_nodes({3}), "recover_failed_nodes");
      const std::uint64_t elapsed_ns = monotonic_ns() - start;
      state.SetIterationTime(static_cast<double>(elapsed_ns) / 1e9);
      samples.push_back(ns_to_ms(static_cast<std::int64_t>(elapsed_ns)));

      if (load_acquire(c.dir_primary) == 3 || load_acquire(c.dir_replica) == 3)
        throw BenchError("the directory was not moved off the failed node");
    }
    set_summary(state, "tables", samples);
    state.SetLabel(fmt::format("node 0 recovers node 3 (directory primary): {} sections shared by 4 nodes, {} caches", k,
                               cold ? "cold" : "warm"));
  });
}
BENCHMARK(BM_RecoverTablesOnly)
    ->ArgNames({"k", "cold"})
    ->ArgsProduct({{1, 64}, {0, 1}})
    ->Iterations(40)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gmm::bench
