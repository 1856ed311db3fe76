// gmmd's membership thread: runs the node's ClusterAgent (heartbeat, ring
// watch, coordinator recovery, events) once per period in its own thread,
// so that a request blocked on a global lock held by a paused node never
// stops this node's heartbeat (which would get it declared failed too).
//
// Expelled (declared failed after a stall): the thread rejoins as a new
// incarnation once the old one has been recovered (join() answers kBusy
// until then; it retries every period). Asked to leave: the agent leaves,
// `on_left` runs once and the thread ends.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "gmm/gmm.hpp"
#include "gmm/membership.hpp"

namespace gmm::gmmd {

class AgentThread {
 public:
  AgentThread(Node& node, EventService& events, std::function<void()> on_left);
  ~AgentThread();  // stop()s
  AgentThread(const AgentThread&) = delete;
  AgentThread& operator=(const AgentThread&) = delete;

  // Ends the thread after its current tick; idempotent.
  void stop();
  // The node left the cluster as asked (planned removal).
  bool left() const { return left_.load(); }

 private:
  void run();
  void rejoin();

  Node& node_;
  ClusterAgent agent_;
  std::function<void()> on_left_;
  std::chrono::microseconds period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::atomic<bool> left_{false};
  bool expelled_ = false;       // agent thread only
  std::string last_join_error_;  // agent thread only: logged once per distinct error
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace gmm::gmmd
