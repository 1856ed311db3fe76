// gmm_bench: Google Benchmark runner for every GMM benchmark (see
// docs/benchmarks.md). The settings that shape the figures are written into
// the report's context so a JSON file says how it was produced.
#include "bench_support.hpp"

int main(int argc, char** argv) {
  using namespace gmm::bench;
  const gmm::Geometry defaults{};
  benchmark::AddCustomContext("gmm.pool_bytes", std::to_string(kPoolBytes));
  benchmark::AddCustomContext("gmm.node_count", std::to_string(defaults.node_count));
  benchmark::AddCustomContext("gmm.heartbeat_period_us", std::to_string(heartbeat_period_us()));
  benchmark::AddCustomContext("gmm.miss_threshold", std::to_string(defaults.miss_threshold));
  benchmark::AddCustomContext("GMM_BENCH_RECOVERY_REPS", std::to_string(recovery_reps()));
  benchmark::AddCustomContext("GMM_BENCH_LOCK_OPS", std::to_string(lock_ops_per_process()));
  benchmark::AddCustomContext("GMM_BENCH_VICTIM", std::to_string(env_u64("GMM_BENCH_VICTIM", 3) % defaults.node_count));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
