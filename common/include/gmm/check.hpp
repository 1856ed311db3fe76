// The pool checker (paper's invariants as a function): the same code runs
// after every crash test and from the host as `gmm-host fsck`.
#pragma once

#include <string>
#include <vector>

#include "gmm/pool.hpp"

namespace gmm {

struct CheckReport {
  std::vector<std::string> violations;  // one line each; empty when clean
  std::uint64_t sections = 0;
  std::uint64_t names = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t used_bytes = 0;
  std::uint64_t reserved_bytes = 0;  // live reservations of in-flight transactions
  bool clean() const { return violations.empty(); }
};

// Takes the pool's locks briefly (as the checker, never a node) to copy the
// tables, then checks the copy. Safe while nodes run.
CheckReport check_pool(const Pool& pool);

}  // namespace gmm
