// gmmd's membership thread: runs the node's ClusterAgent (heartbeat, ring
// watch, coordinator recovery, events) in its own thread, so that a request
// blocked on a global lock held by a paused node never stops this node's
// heartbeat (which would get it declared failed too).
//
// Ticks stay periodic (one per heartbeat period). Between ticks the thread
// sleeps on the node's doorbell: when another node rings it (a view-changed
// broadcast after a failure was declared or recovered, an application
// message), it takes the messages and acts on the membership records at
// once (ClusterAgent::on_doorbell), so recovery starts when the failure is
// declared, not at the next tick.
//
// Expelled (declared failed after a stall): the thread rejoins as a new
// incarnation once the old one has been recovered (join() answers kBusy
// until then; it retries every period). Asked to leave: the agent leaves,
// `on_left` runs once and the thread ends.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "gmm/doorbell.hpp"
#include "gmm/gmm.hpp"
#include "gmm/membership.hpp"
#include "gmm/messages.hpp"

namespace gmm::gmmd {

class AgentThread {
 public:
  // `doorbell` must outlive this: rung by other nodes' messages, and rung
  // here by stop() to end the wait.
  AgentThread(Node& node, EventService& events, Doorbell& doorbell, std::function<void()> on_left);
  ~AgentThread();  // stop()s
  AgentThread(const AgentThread&) = delete;
  AgentThread& operator=(const AgentThread&) = delete;

  // Ends the thread after its current tick; idempotent.
  void stop();
  // The node left the cluster as asked (planned removal).
  bool left() const { return left_.load(); }
  // Times the doorbell ended a wait (this node was rung) since start.
  std::uint64_t doorbell_wakes() const { return wakes_.load(); }

 private:
  void run();
  void rejoin();

  Node& node_;
  Doorbell& doorbell_;
  Messenger messenger_;
  ClusterAgent agent_;
  std::function<void()> on_left_;
  std::chrono::microseconds period_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> left_{false};
  std::atomic<std::uint64_t> wakes_{0};
  bool expelled_ = false;       // agent thread only
  std::string last_join_error_;  // agent thread only: logged once per distinct error
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace gmm::gmmd
