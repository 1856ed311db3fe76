// The two threads that keep a node in the cluster. gmmd, the recovery tests
// and the recovery benchmark run these same threads (docs/design.md,
// "Threads of a node").
//
// LivenessThread: every heartbeat period, LivenessAgent::tick(): beat,
// watch the ring successor, declare it failed when it stalls. It takes no
// table lock and runs no recovery, so nothing the node waits for can stop
// its heartbeat. Start it before Node::join(): a joiner waiting on a lock,
// or cleaning up after its previous incarnation, is alive all along.
//
// AgentThread: the node's work for the cluster, ClusterAgent. Ticks stay
// periodic (one per heartbeat period); between ticks it sleeps on the
// node's doorbell: when another node rings it (a view-changed broadcast
// after a failure was declared or recovered, an application message), it
// takes the messages and acts on the membership records at once
// (ClusterAgent::on_doorbell), so recovery starts when the failure is
// declared, not at the next tick. Expelled (declared failed after a
// stall): it rejoins as a new incarnation once the old one has been
// recovered (join() answers kBusy until then; it retries every period).
// Asked to leave: the agent leaves, `on_left` runs once and the thread ends.
//
// The AgentThread is the node's only mailbox consumer: application messages
// go to `on_message` (in that thread). Other threads may send through the
// same Messenger: Messenger::send only claims slots in other mailboxes (a
// CAS, as any other node's sender does) and rings doorbells (thread-safe in
// every Doorbell); receive() state is touched by the AgentThread alone.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "gmm/gmm.hpp"
#include "gmm/membership.hpp"
#include "gmm/messages.hpp"

namespace gmm {

class LivenessThread {
 public:
  // `messenger` (may be null) announces the failures this node declares.
  // `os_heartbeat` (may be null; must outlive this) beats the heartbeat
  // below the daemon (the guest kernel's timer); this thread then advances
  // only `progress` (LivenessAgent).
  LivenessThread(Node& node, Messenger* messenger, AgentLog log = {}, OsHeartbeat* os_heartbeat = nullptr);
  ~LivenessThread();  // stop()s
  LivenessThread(const LivenessThread&) = delete;
  LivenessThread& operator=(const LivenessThread&) = delete;

  // Ends the thread after its current tick; idempotent.
  void stop();
  // For the caller to raise the thread's scheduling priority (gmmd makes it
  // SCHED_FIFO, so that user-space load cannot delay `progress`).
  std::thread::native_handle_type native_handle() { return thread_.native_handle(); }

 private:
  void run();

  LivenessAgent agent_;
  std::chrono::microseconds period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // last: starts once the members above exist
};

class AgentThread {
 public:
  // Start after the node joined. `messenger` (and its doorbell) must
  // outlive this: rung by other nodes' messages, and rung here by stop()
  // to end the wait.
  AgentThread(Node& node, EventService& events, Messenger& messenger, std::function<void()> on_left,
              ClusterAgent::MessageHandler on_message = {}, AgentLog log = {});
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
  Messenger& messenger_;
  ClusterAgent agent_;
  std::function<void()> on_left_;
  AgentLog log_;
  std::chrono::microseconds period_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> left_{false};
  std::atomic<std::uint64_t> wakes_{0};
  bool expelled_ = false;        // agent thread only
  std::string last_join_error_;  // agent thread only: logged once per distinct error
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace gmm
