#include "gmmd/agent_thread.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace gmm::gmmd {
namespace {

// A pool formatted with period 0 must not turn the thread into a spin.
constexpr std::chrono::microseconds kMinPeriod{1000};

}  // namespace

AgentThread::AgentThread(Node& node, EventService& events, std::function<void()> on_left)
    : node_(node),
      agent_(node, events),
      on_left_(std::move(on_left)),
      period_(std::max(agent_.period(), kMinPeriod)),
      thread_([this] { run(); }) {}

AgentThread::~AgentThread() { stop(); }

void AgentThread::stop() {
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AgentThread::run() {
  using Clock = std::chrono::steady_clock;
  auto next = Clock::now();
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    switch (agent_.tick()) {
      case ClusterAgent::TickResult::kOk:
        break;
      case ClusterAgent::TickResult::kExpelled:
        rejoin();
        break;
      case ClusterAgent::TickResult::kLeft:
        spdlog::info("left the cluster as asked");
        left_.store(true);
        on_left_();
        return;
    }
    next += period_;
    // Late (a long recovery, a stall): no burst of catch-up ticks.
    if (next <= Clock::now()) next = Clock::now() + period_;
    lock.lock();
    wake_.wait_until(lock, next, [this] { return stopping_; });
  }
}

void AgentThread::rejoin() {
  if (!expelled_) spdlog::warn("expelled from the cluster (declared failed); rejoining once it has recovered us");
  expelled_ = true;
  Status joined = node_.join();
  if (joined) {
    agent_.reset();
    expelled_ = false;
    last_join_error_.clear();
    spdlog::info("rejoined as incarnation {}", node_.incarnation());
    return;
  }
  if (joined.error().code != Errc::kBusy && joined.error().message != last_join_error_) {
    spdlog::warn("rejoin failed: {} (retrying every period)", joined.error().message);
  }
  last_join_error_ = joined.error().message;
}

}  // namespace gmm::gmmd
