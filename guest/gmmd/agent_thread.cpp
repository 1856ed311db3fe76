#include "gmmd/agent_thread.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace gmm::gmmd {
namespace {

// A pool formatted with period 0 must not turn the thread into a spin.
constexpr std::chrono::microseconds kMinPeriod{1000};

}  // namespace

AgentThread::AgentThread(Node& node, EventService& events, Doorbell& doorbell, std::function<void()> on_left)
    : node_(node),
      doorbell_(doorbell),
      messenger_(node.pool(), node.id(), doorbell),
      agent_(node, events, &messenger_),
      on_left_(std::move(on_left)),
      period_(std::max(agent_.period(), kMinPeriod)),
      thread_([this] { run(); }) {}

AgentThread::~AgentThread() { stop(); }

void AgentThread::stop() {
  stopping_.store(true);
  doorbell_.ring(node_.id(), kDoorbellVector);  // our own doorbell: ends the wait now
  if (thread_.joinable()) thread_.join();
}

void AgentThread::run() {
  using Clock = std::chrono::steady_clock;
  auto next_tick = Clock::now();
  while (!stopping_.load()) {
    const bool tick_due = Clock::now() >= next_tick;
    switch (tick_due ? agent_.tick() : agent_.on_doorbell()) {
      case ClusterAgent::TickResult::kOk:
        break;
      case ClusterAgent::TickResult::kExpelled:
        if (tick_due) rejoin();  // once per period, not per message
        break;
      case ClusterAgent::TickResult::kLeft:
        spdlog::info("left the cluster as asked");
        left_.store(true);
        on_left_();
        return;
    }
    if (tick_due) {
      next_tick += period_;
      // Late (a long recovery, a stall): no burst of catch-up ticks.
      if (next_tick <= Clock::now()) next_tick = Clock::now() + period_;
    }
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(next_tick - Clock::now());
    if (left.count() > 0 && doorbell_.wait(left)) wakes_.fetch_add(1);
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
