// What every benchmark file needs: a formatted pool under /dev/shm that is
// removed afterwards, knobs read from the environment, percentiles, a shared
// anonymous mapping for parent/child control blocks, and forked children.
//
// Errors: helpers throw BenchError with a one-line message; each benchmark
// body runs inside guarded(), which turns it into State::SkipWithError.
#pragma once

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "file/file_pool.hpp"
#include "gmm/gmm.hpp"
#include "gmm/pool.hpp"
#include "gmm/result.hpp"

namespace gmm::bench {

struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
T expect(Result<T> result, std::string_view what) {
  if (!result) throw BenchError(fmt::format("{}: {}", what, result.error().message));
  return std::move(result.value());
}

// Runs a benchmark body; an exception becomes a skipped benchmark with its message.
template <class Body>
void guarded(benchmark::State& state, Body&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---------------------------------------------------------------- knobs --

inline std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  return (end != nullptr && *end == '\0' && value > 0) ? value : fallback;
}

// Repetitions of each kill-and-recover experiment (GMM_BENCH_RECOVERY_REPS).
inline std::uint64_t recovery_reps() { return env_u64("GMM_BENCH_RECOVERY_REPS", 20); }
// Lock operations per process per timed batch in the 2-process runs (GMM_BENCH_LOCK_OPS).
inline std::uint64_t lock_ops_per_process() { return env_u64("GMM_BENCH_LOCK_OPS", 200'000); }

// Micro-benchmarks run 5 times in the same process; the console shows mean,
// median, stddev and cv (the JSON file keeps every repetition too). The
// machine is 2 cores shared with other work, so single runs wander.
inline void repeated(benchmark::internal::Benchmark* b) { b->Repetitions(5)->DisplayAggregatesOnly(true); }

// Heartbeat period of the kill-and-recover pools (GMM_BENCH_HEARTBEAT_US;
// default Geometry's 10 ms).
inline std::uint64_t heartbeat_period_us() { return env_u64("GMM_BENCH_HEARTBEAT_US", Geometry{}.heartbeat_period_us); }

// The pool every benchmark uses: the default geometry (4 nodes, default
// table sizes and heartbeat settings), 64 MiB like the core's tests.
inline constexpr std::uint64_t kPoolBytes = 64ull << 20;

// ----------------------------------------------------------- statistics --

// Nearest-rank percentile (p in [0, 100]); with 20 samples p99 is the maximum.
inline double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0.0;
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
  return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
}

inline double ns_to_ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

inline std::uint64_t monotonic_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

inline void sleep_us(long us) {
  timespec ts{us / 1'000'000, (us % 1'000'000) * 1000};
  ::nanosleep(&ts, nullptr);
}

// ----------------------------------------------------------------- pool --

inline std::string unique_shm_name(const char* tag) {
  static std::atomic<int> counter{0};
  return fmt::format("gmm-bench-{}-{}-{}", tag, ::getpid(), counter++);
}

// A freshly formatted pool file, unlinked when this object goes.
class TempPool {
 public:
  explicit TempPool(const char* tag, const Geometry& geometry = {}, std::uint64_t bytes = kPoolBytes)
      : path_("/dev/shm/" + unique_shm_name(tag)) {
    mapping_ = expect(create_pool_file(path_, bytes), "create pool file");
    expect(format_pool(*mapping_, geometry), "format pool");
    pool_.emplace(expect(Pool::attach(*mapping_), "attach pool"));
  }
  ~TempPool() { ::unlink(path_.c_str()); }
  TempPool(const TempPool&) = delete;
  TempPool& operator=(const TempPool&) = delete;

  const Pool& pool() const { return *pool_; }
  const std::string& path() const { return path_; }

  // A Node that has joined (in this process).
  std::unique_ptr<Node> join(std::uint32_t id) const {
    auto node = std::make_unique<Node>(*pool_, id);
    expect(node->join(), fmt::format("node {} join", id));
    return node;
  }

 private:
  std::string path_;
  std::unique_ptr<PoolMapping> mapping_;
  std::optional<Pool> pool_;
};

// ------------------------------------------------- cross-process memory --

// One T in a MAP_SHARED anonymous mapping made before fork: parent and
// children see the same object. T's atomics must be lock-free.
template <class T>
class SharedObject {
 public:
  SharedObject() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw BenchError("mmap of a shared control block failed");
    object_ = new (p) T();
  }
  ~SharedObject() {
    object_->~T();
    ::munmap(object_, sizeof(T));
  }
  SharedObject(const SharedObject&) = delete;
  SharedObject& operator=(const SharedObject&) = delete;
  T* operator->() const { return object_; }
  T& operator*() const { return *object_; }

 private:
  T* object_;
};

// ------------------------------------------------------------- children --

// Forks a child that runs `body` (which must end in _exit). The child dies
// with the benchmark process.
template <class Body>
pid_t fork_child(Body&& body) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw BenchError("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(120);
    body();
    ::_exit(121);  // body must not return
  }
  return pid;
}

// Children still running when a benchmark leaves (normally or by an
// exception) are killed and reaped.
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (pid_t& pid : pids_)
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
  }
  template <class Body>
  std::size_t spawn(Body&& body) {
    pids_.push_back(fork_child(std::forward<Body>(body)));
    return pids_.size() - 1;
  }
  pid_t pid(std::size_t i) const { return pids_[i]; }
  // Non-blocking: throws if child `i` has exited with a failure.
  void check_alive(std::size_t i) {
    if (pids_[i] <= 0) return;
    int status = 0;
    if (::waitpid(pids_[i], &status, WNOHANG) == pids_[i]) {
      pids_[i] = -1;
      throw BenchError(fmt::format("child {} exited early ({})", i, describe(status)));
    }
  }
  void check_all_alive() {
    for (std::size_t i = 0; i < pids_.size(); ++i) check_alive(i);
  }
  // Sends `sig` and waits up to `timeout_ms`; returns the wait status (or
  // SIGKILLs it after the timeout and throws).
  int stop(std::size_t i, int sig, long timeout_ms = 5'000) {
    if (pids_[i] <= 0) throw BenchError(fmt::format("child {} is not running", i));
    ::kill(pids_[i], sig);
    const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(timeout_ms) * 1'000'000;
    int status = 0;
    while (::waitpid(pids_[i], &status, WNOHANG) != pids_[i]) {
      if (monotonic_ns() > deadline) {
        ::kill(pids_[i], SIGKILL);
        ::waitpid(pids_[i], nullptr, 0);
        pids_[i] = -1;
        throw BenchError(fmt::format("child {} did not exit within {} ms of signal {}", i, timeout_ms, sig));
      }
      sleep_us(200);
    }
    pids_[i] = -1;
    return status;
  }
  static std::string describe(int status) {
    if (WIFEXITED(status)) return fmt::format("exit code {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
    return "unknown status";
  }

 private:
  std::vector<pid_t> pids_;
};

// Polls `done` every `poll_us` until it holds; checks the children meanwhile.
template <class Done>
void wait_for(Children& children, std::string_view what, Done&& done, long timeout_ms = 10'000, long poll_us = 200) {
  const std::uint64_t deadline = monotonic_ns() + static_cast<std::uint64_t>(timeout_ms) * 1'000'000;
  while (!done()) {
    children.check_all_alive();
    if (monotonic_ns() > deadline) throw BenchError(fmt::format("timed out after {} ms waiting for {}", timeout_ms, what));
    sleep_us(poll_us);
  }
}

}  // namespace gmm::bench
