#include "gmm/node_threads.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace gmm {
namespace {

// A pool formatted with period 0 must not turn the threads into spins.
constexpr std::chrono::microseconds kMinPeriod{1000};

}  // namespace

// ---------------------------------------------------------- LivenessThread --

LivenessThread::LivenessThread(Node& node, Messenger* messenger, AgentLog log, OsHeartbeat* os_heartbeat)
    : agent_(node, messenger, std::move(log), os_heartbeat),
      period_(std::max(agent_.period(), kMinPeriod)),
      thread_([this] { run(); }) {}

LivenessThread::~LivenessThread() { stop(); }

void LivenessThread::stop() {
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LivenessThread::run() {
  using Clock = std::chrono::steady_clock;
  auto next_tick = Clock::now();
  std::unique_lock guard(mutex_);
  while (!stopping_) {
    guard.unlock();
    agent_.tick();
    guard.lock();
    next_tick += period_;
    if (next_tick <= Clock::now()) next_tick = Clock::now() + period_;  // late: no catch-up burst
    wake_.wait_until(guard, next_tick, [this] { return stopping_; });
  }
}

// ------------------------------------------------------------- AgentThread --

AgentThread::AgentThread(Node& node, EventService& events, Messenger& messenger, std::function<void()> on_left,
                         ClusterAgent::MessageHandler on_message, AgentLog log)
    : node_(node),
      messenger_(messenger),
      agent_(node, events, &messenger, std::move(on_message)),
      on_left_(std::move(on_left)),
      log_(std::move(log)),
      period_(std::max(agent_.period(), kMinPeriod)),
      thread_([this] { run(); }) {}

AgentThread::~AgentThread() { stop(); }

void AgentThread::stop() {
  stopping_.store(true);
  messenger_.doorbell().ring(node_.id(), kDoorbellVector);  // our own doorbell: ends the wait now
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
        if (log_) log_(LogLevel::kInfo, "left the cluster as asked");
        left_.store(true);
        if (on_left_) on_left_();
        return;
    }
    if (tick_due) {
      next_tick += period_;
      // Late (a long recovery, a stall): no burst of catch-up ticks.
      if (next_tick <= Clock::now()) next_tick = Clock::now() + period_;
    }
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(next_tick - Clock::now());
    if (left.count() > 0 && messenger_.doorbell().wait(left)) wakes_.fetch_add(1);
  }
}

void AgentThread::rejoin() {
  if (!expelled_ && log_) log_(LogLevel::kWarning, "expelled from the cluster (declared failed); rejoining once it has recovered us");
  expelled_ = true;
  Status joined = node_.join();
  if (joined) {
    agent_.reset();
    expelled_ = false;
    last_join_error_.clear();
    if (log_) log_(LogLevel::kInfo, fmt::format("rejoined as incarnation {}", node_.incarnation()));
    return;
  }
  if (joined.error().code != Errc::kBusy && joined.error().message != last_join_error_ && log_)
    log_(LogLevel::kWarning, fmt::format("rejoin failed: {} (retrying every period)", joined.error().message));
  last_join_error_ = joined.error().message;
}

}  // namespace gmm
