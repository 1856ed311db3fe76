// The start-up check that the pool is atomic across VMs: every guest adds 1
// to the same pool word COUNT times with __atomic_fetch_add, at the same
// time; the total must be guests * COUNT. Under TCG this holds only with
// MTTCG (>= 2 vCPUs per guest): with -smp 1 four guests doing 20 M each ended
// at 43,433,732 instead of 80,000,000. GMM's locks and tables depend on it,
// so the orchestrator refuses to run when this check fails.
//
// The guest side is the image's `uio-poke` (write/add/read on map 1 of the
// gmm_ivshmem device); how a command reaches a guest is the caller's
// (GuestShell in VM mode, a fake in tests).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gmm/result.hpp"

namespace gmm::host::vm {

// Runs a shell line in guest `node`; returns its output if it exits 0.
using GuestRunner = std::function<Result<std::string>(std::uint32_t node, const std::string& command)>;

struct AtomicCheckOptions {
  std::vector<std::uint32_t> nodes;  // at least 2 to mean anything
  // A pool word nobody else uses during the check: run it before the pool is
  // formatted (offset 0 is the superblock's magic, 0 = "not formatted").
  // The check leaves the word 0.
  std::uint64_t offset = 0;
  std::uint64_t count = 50'000'000;  // increments per guest (see `overlapped`)
  std::string tool = "uio-poke";    // `TOOL write OFF 0`, `TOOL add OFF N`, `TOOL read OFF` (prints 0x...)
};

struct AtomicCheckReport {
  std::uint64_t expected = 0;
  std::uint64_t total = 0;
  double seconds = 0;  // wall time of the concurrent adds
  // Whether the guests' adds really ran at the same time: each `add` prints
  // the word after its last increment, and the first guest to finish saw
  // more than its own COUNT only if another guest was adding meanwhile. A
  // correct total without overlap proves nothing: raise COUNT (each guest
  // should add for about a second: measured 25-50 M adds/s per TCG guest).
  bool overlapped = false;
};

// Errors: a guest command failed (node and output in the message), or the
// total is wrong (whether or not the adds overlapped):
//   "cross-VM atomics are broken: expected 80000000, got 43433732; under TCG
//    each guest needs 2 vCPUs (-smp 2, MTTCG)"
Result<AtomicCheckReport> check_cross_vm_atomics(const AtomicCheckOptions& options, const GuestRunner& run);

// The number uio-poke prints ("0x00000000004c4b40"), or nullopt.
std::optional<std::uint64_t> parse_poke_value(const std::string& output);

}  // namespace gmm::host::vm
