// Named allocation: GMM's global sections against Boost.Interprocess named
// objects in one managed_shared_memory segment, the obvious single-machine
// alternative. Both are "create a named region, then remove it by name";
// GMM also runs a two-phase transaction (paper 3.3) with a replicated
// directory, so this shows what recoverability costs per allocation.
#include <barrier>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <mutex>
#include <thread>

#include "bench_support.hpp"

namespace gmm::bench {
namespace {

namespace bip = boost::interprocess;

constexpr std::uint32_t kNodes = 4;
constexpr std::size_t kNames = 64;  // names cycled through, per node/thread

std::vector<std::string> make_names(std::string_view prefix, std::size_t count) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < count; ++i) names.push_back(fmt::format("{}-{:03}", prefix, i));
  return names;
}

// kNames names for each of kNodes threads: "n0-000", ..., "n3-063".
std::vector<std::vector<std::string>> names_per_thread() {
  std::vector<std::vector<std::string>> names;
  for (std::uint32_t t = 0; t < kNodes; ++t) names.push_back(make_names(fmt::format("n{}", t), kNames));
  return names;
}

// A byte whose constructor does nothing: construct<RawByte>(name)[n]() only
// reserves and indexes the memory, as Node::allocate does (GMM never touches
// the data pages). construct<char>(name)[n]() would also zero them.
struct RawByte {
  RawByte() {}  // NOLINT: deliberately leaves the byte uninitialised
  unsigned char value;
};

// A managed_shared_memory segment of the pool's size, removed afterwards.
class BoostSegment {
 public:
  BoostSegment() : name_(unique_shm_name("boost")) {
    bip::shared_memory_object::remove(name_.c_str());
    segment_.emplace(bip::create_only, name_.c_str(), kPoolBytes);
  }
  ~BoostSegment() {
    segment_.reset();
    bip::shared_memory_object::remove(name_.c_str());
  }
  BoostSegment(const BoostSegment&) = delete;
  BoostSegment& operator=(const BoostSegment&) = delete;
  bip::managed_shared_memory& operator*() { return *segment_; }

 private:
  std::string name_;
  std::optional<bip::managed_shared_memory> segment_;
};

// A pool with all four nodes joined (so the directory keeps its replica, as
// in a running cluster); each benchmark uses the nodes it needs.
struct Cluster {
  TempPool pool;
  std::vector<std::unique_ptr<Node>> nodes;
  explicit Cluster(const Geometry& geometry = {}) : pool("alloc", geometry) {
    for (std::uint32_t id = 0; id < kNodes; ++id) nodes.push_back(pool.join(id));
  }
};

// ------------------------------------------------- 1. one node, latency --

// Latency of one named allocate + free on node 0 (placement local), for
// sizes range(0). The section is created and released by name through the
// directory, so this is the cost an application pays per named region.
// range(1) is the sharer table size per partition: the default (16384) is
// the real figure; 512 is a diagnostic showing how much of the cost is
// Node::allocate's closing describe(), which scans the whole sharer table
// to report sharer_nodes (docs/benchmarks.md).
void BM_GmmNamedAllocFree(benchmark::State& state) {
  guarded(state, [&] {
    const auto size = static_cast<std::uint64_t>(state.range(0));
    Geometry geometry;
    geometry.sharer_entries = static_cast<std::uint32_t>(state.range(1));
    Cluster cluster(geometry);
    Node& node = *cluster.nodes[0];
    const auto names = make_names("sec", kNames);
    std::size_t i = 0;
    for (auto _ : state) {
      const std::string& name = names[i++ % kNames];
      auto section = expect(node.allocate(name, size, Placement::local()), "allocate");
      benchmark::DoNotOptimize(section.pool_offset);
      expect(node.free(name), "free");
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel("4 nodes joined, node 0 allocates locally");
  });
}
constexpr std::int64_t kDefaultSharers = Geometry{}.sharer_entries;
BENCHMARK(BM_GmmNamedAllocFree)
    ->ArgNames({"bytes", "sharers"})
    ->Args({4 << 10, kDefaultSharers})
    ->Args({64 << 10, kDefaultSharers})
    ->Args({4 << 10, 512})
    ->Unit(benchmark::kMicrosecond)
    ->Apply(repeated);

// Baseline: the same sequence with Boost named objects on one segment of the
// pool's size. T = RawByte reserves only; T = char also zeroes the bytes.
template <class T>
void BM_BoostNamedAllocFree(benchmark::State& state) {
  guarded(state, [&] {
    const auto size = static_cast<std::size_t>(state.range(0));
    BoostSegment segment;
    const auto names = make_names("sec", kNames);
    std::size_t i = 0;
    for (auto _ : state) {
      const char* name = names[i++ % kNames].c_str();
      T* p = (*segment).template construct<T>(name)[size]();
      benchmark::DoNotOptimize(p);
      if (!(*segment).template destroy<T>(name)) throw BenchError("destroy found no object");
    }
    state.SetItemsProcessed(state.iterations());
  });
}
BENCHMARK_TEMPLATE(BM_BoostNamedAllocFree, RawByte)->ArgName("bytes")->Arg(4 << 10)->Arg(64 << 10)->Unit(benchmark::kMicrosecond)->Apply(repeated);
BENCHMARK_TEMPLATE(BM_BoostNamedAllocFree, char)->ArgName("bytes")->Arg(4 << 10)->Arg(64 << 10)->Unit(benchmark::kMicrosecond)->Apply(repeated);

// ------------------------------------------ 2. four nodes, throughput --

// Runs `threads` workers that stay alive for the whole benchmark run; every
// benchmark iteration releases them for one batch of `ops` operations each.
// The batch is timed by the workers themselves, from the first worker's
// start to the last worker's finish (manual time): the main thread may get
// a core long after the workers on a busy 2-core machine.
// Reports ops_per_s = all operations / all timed seconds.
template <class Op>
void run_batches(benchmark::State& state, std::uint32_t threads, std::uint64_t ops, Op op) {
  std::barrier sync(static_cast<std::ptrdiff_t>(threads) + 1);
  std::atomic<bool> stop{false};
  std::vector<std::uint64_t> start_ns(threads), end_ns(threads);  // ordered by the barrier
  std::mutex error_mutex;
  std::string error;  // guarded by error_mutex
  std::vector<std::jthread> workers;
  for (std::uint32_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (std::uint64_t batch = 0;; ++batch) {
        sync.arrive_and_wait();  // start of a batch (or stop)
        if (stop.load()) return;
        start_ns[t] = monotonic_ns();
        try {
          for (std::uint64_t i = 0; i < ops; ++i) op(t, batch * ops + i);
        } catch (const std::exception& e) {
          std::lock_guard guard(error_mutex);
          if (error.empty()) error = fmt::format("thread {}: {}", t, e.what());
        }
        end_ns[t] = monotonic_ns();
        sync.arrive_and_wait();  // end of the batch
      }
    });
  }
  double seconds = 0;
  for (auto _ : state) {
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    const std::uint64_t first = *std::min_element(start_ns.begin(), start_ns.end());
    const std::uint64_t last = *std::max_element(end_ns.begin(), end_ns.end());
    const double elapsed = static_cast<double>(last - first) / 1e9;
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    std::lock_guard guard(error_mutex);
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
  }
  stop.store(true);
  sync.arrive_and_wait();
  workers.clear();  // joins
  const double total = static_cast<double>(state.iterations()) * threads * static_cast<double>(ops);
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
  if (seconds > 0) state.counters["ops_per_s"] = benchmark::Counter(total / seconds);
}

// Throughput of 4 nodes at once (4 threads, one gmm::Node each, ids 0..3, all
// in this process): each allocates and frees its own 4 KiB names, placement
// rotating local / on the next node / anywhere, so directory and partition
// locks are contended as in a busy cluster. One op = allocate + free.
void BM_GmmThroughput4Nodes(benchmark::State& state) {
  guarded(state, [&] {
    Cluster cluster;
    const auto names = names_per_thread();
    run_batches(state, kNodes, static_cast<std::uint64_t>(state.range(0)), [&](std::uint32_t t, std::uint64_t i) {
      const std::string& name = names[t][i % kNames];
      const Placement where = i % 3 == 0   ? Placement::local()
                              : i % 3 == 1 ? Placement::on((t + 1) % kNodes)
                                           : Placement::anywhere();
      auto section = expect(cluster.nodes[t]->allocate(name, 4096, where), "allocate");
      benchmark::DoNotOptimize(section.pool_offset);
      expect(cluster.nodes[t]->free(name), "free");
    });
    state.SetLabel("4 threads x 1 node, mixed placement, 4 KiB");
  });
}
BENCHMARK(BM_GmmThroughput4Nodes)->Arg(500)->UseManualTime()->Unit(benchmark::kMillisecond)->Apply(repeated);

// Baseline: 4 threads doing Boost named construct/destroy of 4 KiB on one
// segment (its internal mutex serialises them, like GMM's directory lock).
void BM_BoostThroughput4Threads(benchmark::State& state) {
  guarded(state, [&] {
    BoostSegment segment;
    const auto names = names_per_thread();
    run_batches(state, kNodes, static_cast<std::uint64_t>(state.range(0)), [&](std::uint32_t t, std::uint64_t i) {
      const char* name = names[t][i % kNames].c_str();
      RawByte* p = (*segment).construct<RawByte>(name)[4096]();
      benchmark::DoNotOptimize(p);
      if (!(*segment).destroy<RawByte>(name)) throw BenchError("destroy found no object");
    });
    state.SetLabel("4 threads, one segment, 4 KiB");
  });
}
BENCHMARK(BM_BoostThroughput4Threads)->Arg(5000)->UseManualTime()->Unit(benchmark::kMillisecond)->Apply(repeated);

}  // namespace
}  // namespace gmm::bench
