// Recoverable global locks (paper 3.5) against a POSIX robust,
// process-shared pthread mutex: the two give the same guarantee (an owner's
// death is reported to the next locker), so the mutex is the price to beat.
// Both loops do the same work: lock, bump a shared counter, unlock. The
// counter is checked at the end, so a broken lock fails the benchmark; the
// critical section also counts hand-offs (the holder differs from the
// previous one), which says how much the two processes really interleaved.
#include <pthread.h>

#include <cerrno>
#include <cstring>

#include "bench_support.hpp"
#include "gmm/lock.hpp"

namespace gmm::bench {
namespace {

// A robust PTHREAD_PROCESS_SHARED mutex and the counter it protects, in a
// MAP_SHARED anonymous mapping made before fork.
struct RobustMutex {
  pthread_mutex_t mutex;
  std::uint64_t counter = 0;
  std::uint64_t last_holder = 0;
  std::uint64_t handoffs = 0;
  RobustMutex() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    const int rc = pthread_mutex_init(&mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) throw BenchError(fmt::format("pthread_mutex_init: {}", std::strerror(rc)));
  }
  ~RobustMutex() { pthread_mutex_destroy(&mutex); }
  RobustMutex(const RobustMutex&) = delete;
  RobustMutex& operator=(const RobustMutex&) = delete;

  // One critical section; false on an error the loop cannot go on from.
  bool bump(std::uint64_t me) {
    const int rc = pthread_mutex_lock(&mutex);
    if (rc == EOWNERDEAD) {
      pthread_mutex_consistent(&mutex);
    } else if (rc != 0) {
      return false;
    }
    ++counter;
    if (last_holder != me) {
      last_holder = me;
      ++handoffs;
    }
    pthread_mutex_unlock(&mutex);
    return true;
  }
};

// The GMM side: a GlobalLock and a counter at the start of a global section
// named "bench-lock" (zero = free and consistent).
struct LockedCounter {
  layout::GlobalLock lock;
  std::uint64_t counter;
  std::uint64_t last_holder;
  std::uint64_t handoffs;
};

LockedCounter& locked_counter(const Pool& pool, const SectionInfo& section) {
  return *reinterpret_cast<LockedCounter*>(pool.at(section.pool_offset));
}

bool bump(const Pool& pool, LockedCounter& c, std::uint64_t me) {
  auto got = lock_acquire(pool, c.lock, me);
  if (!got || *got != LockAcquired::kClean) return false;
  ++c.counter;
  if (c.last_holder != me) {
    c.last_holder = me;
    ++c.handoffs;
  }
  lock_release(c.lock, me);
  return true;
}

// ------------------------------------------------------- uncontended --

// One thread, one node: lock_acquire + lock_release on a lock in a global
// section, nobody else around. This is the fast path every GMM table
// operation pays several times.
void BM_GmmLockUncontended(benchmark::State& state) {
  guarded(state, [&] {
    TempPool pool("lock");
    auto node = pool.join(0);
    const SectionInfo section = expect(node->allocate("bench-lock", 4096, Placement::local()), "allocate");
    LockedCounter& c = locked_counter(pool.pool(), section);
    for (auto _ : state)
      if (!bump(pool.pool(), c, node->lock_owner())) throw BenchError("lock_acquire failed");
    if (c.counter != static_cast<std::uint64_t>(state.iterations())) throw BenchError("counter mismatch");
    state.SetItemsProcessed(state.iterations());
  });
}
BENCHMARK(BM_GmmLockUncontended)->Apply(repeated);

void BM_RobustMutexUncontended(benchmark::State& state) {
  guarded(state, [&] {
    SharedObject<RobustMutex> m;
    for (auto _ : state)
      if (!m->bump(1)) throw BenchError("pthread_mutex_lock failed");
    if (m->counter != static_cast<std::uint64_t>(state.iterations())) throw BenchError("counter mismatch");
    state.SetItemsProcessed(state.iterations());
  });
}
BENCHMARK(BM_RobustMutexUncontended)->Apply(repeated);

// ------------------------------------------------- 2 processes, contended --

void set_handoffs(benchmark::State& state, std::uint64_t handoffs, std::uint64_t ops) {
  state.counters["handoffs_per_kop"] = benchmark::Counter(1000.0 * static_cast<double>(handoffs) / static_cast<double>(ops));
}

// Parent/child protocol for the contended runs: children wait for a new
// generation, run their batch, record when they finished.
struct Control {
  std::atomic<std::uint64_t> generation{0};
  std::atomic<bool> quit{false};
  std::atomic<int> ready{0};
  std::atomic<int> finished{0};
  std::atomic<std::uint64_t> end_ns[2]{};
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
};

// Two processes each run `ops` critical sections per benchmark iteration,
// both at once; the iteration's time runs from the release of the batch to
// the later of the two finishes. `make_loop(me)` runs in the child (after
// fork) and returns a callable bool(std::uint64_t n) doing n critical sections.
template <class MakeLoop>
void run_two_processes(benchmark::State& state, std::uint64_t ops, MakeLoop make_loop) {
  SharedObject<Control> control;
  Children children;
  for (int me = 0; me < 2; ++me) {
    children.spawn([&, me] {
      auto loop = make_loop(me);
      control->ready.fetch_add(1);
      std::uint64_t seen = 0;
      for (;;) {
        std::uint64_t g;
        while ((g = control->generation.load()) == seen && !control->quit.load()) sleep_us(50);
        if (control->quit.load()) ::_exit(0);
        seen = g;
        if (!loop(ops)) ::_exit(2);  // the parent sees the exit and fails the benchmark
        control->end_ns[me].store(monotonic_ns());
        control->finished.fetch_add(1);
      }
    });
  }
  wait_for(children, "both processes to be ready", [&] { return control->ready.load() == 2; });
  double seconds = 0;
  for (auto _ : state) {
    control->finished.store(0);
    const std::uint64_t start = monotonic_ns();
    control->generation.fetch_add(1);
    wait_for(children, "both processes to finish a batch", [&] { return control->finished.load() == 2; }, 120'000, 100);
    const std::uint64_t end = std::max(control->end_ns[0].load(), control->end_ns[1].load());
    const double elapsed = static_cast<double>(end - start) / 1e9;
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  control->quit.store(true);
  for (std::size_t i = 0; i < 2; ++i)
    if (int status = children.stop(i, 0); !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      throw BenchError(fmt::format("contender {} failed: {}", i, Children::describe(status)));
  const double total = static_cast<double>(state.iterations()) * 2 * static_cast<double>(ops);
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
  state.counters["ns_per_op"] = benchmark::Counter(seconds * 1e9 / total);
}

// Nodes 0 and 1, each in its own process, loop acquire/++counter/release on
// one GlobalLock in a section allocated by node 3 (the parent) and opened by
// both: the cross-node contention of paper 3.5.
void BM_GmmLockContended2Procs(benchmark::State& state) {
  guarded(state, [&] {
    const std::uint64_t ops = lock_ops_per_process();
    TempPool pool("lockc");
    auto owner = pool.join(3);
    const SectionInfo section = expect(owner->allocate("bench-lock", 4096, Placement::local()), "allocate");
    run_two_processes(state, ops, [&](int me) {
      // In the child: a node of our own on the inherited mapping.
      auto node = std::make_shared<Node>(pool.pool(), static_cast<std::uint32_t>(me));
      if (!node->join() || !node->open("bench-lock")) ::_exit(3);
      return [node, &pool, &section](std::uint64_t n) {
        LockedCounter& c = locked_counter(pool.pool(), section);
        for (std::uint64_t i = 0; i < n; ++i)
          if (!bump(pool.pool(), c, node->lock_owner())) return false;
        return true;
      };
    });
    const std::uint64_t expected = static_cast<std::uint64_t>(state.iterations()) * 2 * ops;
    if (locked_counter(pool.pool(), section).counter != expected)
      throw BenchError(fmt::format("counter {} != {}: mutual exclusion broken",
                                   locked_counter(pool.pool(), section).counter, expected));
    set_handoffs(state, locked_counter(pool.pool(), section).handoffs, expected);
    state.SetLabel(fmt::format("2 node processes x {} ops per batch", ops));
  });
}
BENCHMARK(BM_GmmLockContended2Procs)->Iterations(5)->UseManualTime()->Unit(benchmark::kMillisecond)->Apply(repeated);

void BM_RobustMutexContended2Procs(benchmark::State& state) {
  guarded(state, [&] {
    const std::uint64_t ops = lock_ops_per_process();
    SharedObject<RobustMutex> m;
    run_two_processes(state, ops, [&](int me) {
      return [&m, me](std::uint64_t n) {
        for (std::uint64_t i = 0; i < n; ++i)
          if (!m->bump(static_cast<std::uint64_t>(me) + 1)) return false;
        return true;
      };
    });
    const std::uint64_t expected = static_cast<std::uint64_t>(state.iterations()) * 2 * ops;
    if (m->counter != expected)
      throw BenchError(fmt::format("counter {} != {}: mutual exclusion broken", m->counter, expected));
    set_handoffs(state, m->handoffs, expected);
    state.SetLabel(fmt::format("2 processes x {} ops per batch", ops));
  });
}
BENCHMARK(BM_RobustMutexContended2Procs)->Iterations(5)->UseManualTime()->Unit(benchmark::kMillisecond)->Apply(repeated);

}  // namespace
}  // namespace gmm::bench
