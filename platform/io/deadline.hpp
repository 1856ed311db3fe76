// A point in time to give up at: every blocking call at the platform's I/O
// edge (sockets, consoles, the agent's channel) takes one, so a caller that
// makes several calls gives them one budget. `remaining()` feeds poll().
#pragma once

#include <chrono>

namespace gmm {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Deadline(std::chrono::milliseconds timeout) : end_(Clock::now() + timeout) {}
  explicit Deadline(Clock::time_point end) : end_(end) {}

  // Rounded up, so that a poll() for it never wakes just before the end; 0 once passed.
  std::chrono::milliseconds remaining() const {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(end_ - Clock::now());
    return left.count() < 0 ? std::chrono::milliseconds(0) : left;
  }
  bool passed() const { return remaining().count() <= 0; }

 private:
  Clock::time_point end_;
};

}  // namespace gmm
