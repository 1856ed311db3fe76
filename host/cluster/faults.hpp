// Faults the host injected (`gmm-host crash`), recorded in DIR/faults.json
// with the host time of each injection, so `status` can tell how long the
// cluster took to detect a failure: detection = the pool's declared_ns - the
// injection's time (both CLOCK_REALTIME, the clock of the pool's records).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster.hpp"
#include "gmm/layout.hpp"
#include "gmm/result.hpp"

namespace gmm::host {

struct Injection {
  std::uint32_t node = 0;
  CrashHow how = CrashHow::kKill;
  std::uint64_t injected_ns = 0;   // CLOCK_REALTIME just before the signal
  std::uint32_t incarnation = 0;   // of the node when it was hit (from its pool slot)
  std::int64_t pid = 0;            // process mode: the process hit
};

// The newest kInjectionsKept injections, oldest first.
inline constexpr std::size_t kInjectionsKept = 64;
// No file: none. Errors: unreadable or corrupt file.
Result<std::vector<Injection>> load_injections(const Cluster& cluster);
Status record_injection(const Cluster& cluster, const Injection& injection);

// The injection that caused failure `record`: same node and incarnation,
// injected before it was declared (the newest such). nullopt when the host
// did not cause it. "Before" is judged on the host's clock: the record's
// host_seen_ns when the watcher saw the declaration, else declared_ns (the
// host's clock in process mode; a guest's in VM mode, which may run tens of
// ms behind, more than the watcher takes to get a kill declared).
std::optional<Injection> injection_for(const std::vector<Injection>& injections,
                                       const layout::RecoveryRecord& record);

}  // namespace gmm::host
