// CLOCK_REALTIME in nanoseconds: the clock of every timestamp in the pool
// (in process mode, the host's clock; the host times guests by polling).
#pragma once

#include <chrono>
#include <cstdint>

namespace gmm {

inline std::uint64_t realtime_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// CLOCK_MONOTONIC in nanoseconds: for how long something lasted on this
// node (a stall, a wait); never stored in the pool.
inline std::uint64_t monotonic_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace gmm
