// 5. The application interface (libgmm against a real gmmd, process mode):
//  - AppAcquireMapUnmapRelinquish: the cost of getting at a section and
//    letting go (two gmmd round trips, a descriptor passed, two mmaps);
//  - AppRandomReadWrite/gmm vs /posix_shm: per-operation cost of reading and
//    updating 64-byte records at random in a 16 MiB mapped section, against
//    the same loop on plain POSIX shared memory, in the same run (the paper
//    saw about 1% overhead for its database; the target is < 1%).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>

#include "bench_support.hpp"
#include "gmm/app.hpp"

namespace gmm::bench {
namespace {

constexpr std::size_t kRegion = 16 << 20;
constexpr std::size_t kRecord = 64;
constexpr std::size_t kRecords = kRegion / kRecord;

// A one-node process-mode cluster for the whole benchmark run.
class AppCluster {
 public:
  AppCluster() {
    char pattern[] = "/tmp/gmm-bench-app-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw BenchError("mkdtemp failed");
    dir_ = pattern;
    std::string up = std::string(GMM_HOST_BIN) + " --dir " + dir_ +
                     " up --mode proc --nodes 1 --pool-size 256M >/dev/null";
    if (std::system(up.c_str()) != 0) throw BenchError("gmm-host up failed: " + up);
  }
  ~AppCluster() {
    std::string down = std::string(GMM_HOST_BIN) + " --dir " + dir_ + " down >/dev/null 2>&1";
    (void)std::system(down.c_str());
    std::string remove = "rm -rf " + dir_;
    (void)std::system(remove.c_str());
  }
  std::string socket() const { return dir_ + "/node0.sock"; }

 private:
  std::string dir_;
};

AppCluster& cluster() {
  static AppCluster instance;
  return instance;
}

app::Session connect() { return expect(app::Session::connect(cluster().socket()), "connect to gmmd"); }

void BM_AppAcquireMapUnmapRelinquish(benchmark::State& state) {
  guarded(state, [&] {
    app::Session session = connect();
    const std::string name = "bench-acquire";
    (void)session.destroy(name);
    expect(session.create(name, 64 * 1024), "create");
    void* range = expect(session.reserve(64 * 1024), "reserve");
    for (auto _ : state) {
      auto section = expect(session.acquire(name, app::Access::kWrite), "acquire");
      if (Status mapped = session.map(range, 64 * 1024, section); !mapped) throw BenchError(mapped.error().message);
      static_cast<volatile char*>(range)[0] = 1;  // touch: the mapping is real
      (void)session.unmap(range, 64 * 1024);
      (void)session.relinquish(section);
    }
    (void)session.destroy(name);
  });
}

// Reads a record and rewrites its first word: a read-modify-write per op.
void random_read_write(benchmark::State& state, char* base) {
  std::mt19937_64 random(42);
  std::vector<std::uint32_t> order(1 << 16);
  for (auto& index : order) index = static_cast<std::uint32_t>(random() % kRecords);
  std::memset(base, 1, kRegion);  // fault every page in before timing
  std::size_t i = 0;
  std::uint64_t sum = 0;
  for (auto _ : state) {
    auto* record = reinterpret_cast<std::uint64_t*>(base + std::size_t{order[i++ & (order.size() - 1)]} * kRecord);
    for (std::size_t w = 0; w < kRecord / sizeof(std::uint64_t); ++w) sum += record[w];
    record[0] = sum;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

void BM_AppRandomReadWrite_gmm(benchmark::State& state) {
  guarded(state, [&] {
    app::Session session = connect();
    const std::string name = "bench-rw";
    (void)session.destroy(name);
    expect(session.create(name, kRegion), "create");
    auto section = expect(session.acquire(name, app::Access::kWrite), "acquire");
    char* base = static_cast<char*>(expect(session.map_global(section), "map_global"));
    random_read_write(state, base);
    (void)session.unreserve(base);
    (void)session.relinquish(section);
    (void)session.destroy(name);
  });
}

void BM_AppRandomReadWrite_posix_shm(benchmark::State& state) {
  guarded(state, [&] {
    const std::string name = "/gmm-bench-posix-" + std::to_string(::getpid());
    int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ::ftruncate(fd, kRegion) != 0) throw BenchError("shm_open/ftruncate failed");
    void* base = ::mmap(nullptr, kRegion, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    ::shm_unlink(name.c_str());
    if (base == MAP_FAILED) throw BenchError("mmap of the POSIX shm object failed");
    random_read_write(state, static_cast<char*>(base));
    ::munmap(base, kRegion);
  });
}

BENCHMARK(BM_AppAcquireMapUnmapRelinquish)->Unit(benchmark::kMicrosecond);
// Alternating, so load changes on a shared machine hit both alike.
BENCHMARK(BM_AppRandomReadWrite_posix_shm)->MinTime(0.5)->Repetitions(9)->ReportAggregatesOnly(true);
BENCHMARK(BM_AppRandomReadWrite_gmm)->MinTime(0.5)->Repetitions(9)->ReportAggregatesOnly(true);

}  // namespace
}  // namespace gmm::bench
