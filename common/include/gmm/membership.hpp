// Membership, failure detection and the event service (paper 3.1, 3.4, 3.7,
// 4.1).
//
// Every node beats (heartbeat and progress in its NodeSlot, liveness.hpp;
// in guests the kernel beats the heartbeat) each period and watches its
// ring successor (the next member by id). A successor whose heartbeat has
// not moved for `miss_threshold` periods, or its progress for twice that,
// is declared failed: under the membership lock its slot becomes
// Failed, the view epoch is bumped and a RecoveryRecord is written. The
// coordinator (the live member with the lowest id) then recovers the GMM
// tables for every Failed node; each survivor, once the tables are
// recovered, tells its applications and marks itself finished in the
// record. Recovery time = declared -> last finished.
//
// Two agents, driven by two threads (gmm/node_threads.hpp), because
// liveness must never wait for work: LivenessAgent beats and watches and
// takes no table lock; ClusterAgent does the work (recovery, events,
// messages, planned leave), which may wait on locks.
//
// Event order (paper 3.7): after a crash or memory loss the system recovers
// first and applications are told afterwards; for a planned removal
// applications are told first, get `leave_grace_ms`, then the system
// revokes what is left: the node closes its shares and leaves, and the
// coordinator revokes every section homed on its memory, which takes no new
// sections until the node rejoins (Node::revoke_departed).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string_view>
#include <vector>

#include "gmm/clock.hpp"
#include "gmm/gmm.hpp"
#include "gmm/layout.hpp"
#include "gmm/platform.hpp"
#include "gmm/liveness.hpp"
#include "gmm/messages.hpp"

namespace gmm {

struct Event {
  layout::EventKind kind = layout::EventKind::kNone;
  std::uint32_t node = 0;         // the node that failed / lost memory / is leaving / joined
  std::uint32_t incarnation = 0;
  std::uint64_t sequence = 0;     // RecoveryRecord sequence
};
std::string_view event_name(layout::EventKind kind);

// Components register interest with a predicate and a callback; each
// occurrence calls every matching callback of the phase being delivered.
class EventService {
 public:
  enum class Phase { kSystem, kApplication };
  using Predicate = std::function<bool(const Event&)>;
  using Callback = std::function<void(const Event&)>;

  int subscribe(Phase phase, Predicate predicate, Callback callback);
  void unsubscribe(int id);
  void deliver(Phase phase, const Event& event);

 private:
  struct Subscription {
    Phase phase;
    Predicate predicate;
    Callback callback;
  };
  std::mutex mutex_;
  int next_id_ = 1;
  std::map<int, Subscription> subscriptions_;  // guarded by mutex_
};

// Where the agents say what a person reading the node's log should know
// (a node declared failed, this daemon wedged); may be empty.
enum class LogLevel { kInfo, kWarning };
using AgentLog = std::function<void(LogLevel, std::string_view)>;

// The node's liveness: call tick() once per heartbeat period from a thread
// that does nothing else (LivenessThread), from before join() on. It beats
// (progress only while the node is not wedged, liveness.hpp), and while
// the node is a member watches its ring successor and declares it failed
// when it stalls. It never takes a table lock: declaring takes the
// membership lock, a leaf held briefly by whoever has it, and beats while
// it waits for it. With a messenger, a declaration is broadcast
// (view-changed) so the coordinator starts recovery at once.
//
// With an OsHeartbeat (the guest kernel's timer) the OS beats `heartbeat`
// and this agent only `progress`: after every join it asks the OS to beat
// for the new incarnation (start()), and beats the heartbeat itself until
// that succeeded. If the OS cannot beat at all (an older driver), the agent
// says so once and beats it itself from then on.
class LivenessAgent {
 public:
  LivenessAgent(Node& node, Messenger* messenger = nullptr, AgentLog log = {}, OsHeartbeat* os_heartbeat = nullptr);
  void tick();
  std::chrono::microseconds period() const;
  // The incarnation the OS beats for (0: none, this agent beats itself).
  std::uint32_t os_beats_for() const { return os_incarnation_; }

 private:
  bool os_beats();  // true when the OS beats the current incarnation
  void watch_successor(std::uint64_t now_ns);

  Node& node_;
  Messenger* messenger_;
  AgentLog log_;
  OsHeartbeat* os_;
  const Pool& pool_;
  StallWatch successor_;
  WedgeWatch wedge_;
  bool wedged_ = false;
  std::uint32_t os_incarnation_ = 0;  // what the OS was last started for
  std::uint32_t os_refused_ = 0;      // the incarnation it last refused (logged once)
};

// The node's work for the cluster: call tick() once per heartbeat period
// from one thread (AgentThread). The coordinator recovers failed nodes;
// every node delivers events in the paper's order, leaves when asked, and
// with a messenger hands application messages to `on_message`: between
// ticks, wait on the messenger's doorbell and call on_doorbell() when it
// rings. All of it may wait on global locks; liveness does not depend on it.
class ClusterAgent {
 public:
  enum class TickResult { kOk, kExpelled, kLeft };
  using MessageHandler = std::function<void(const ReceivedMessage&)>;

  ClusterAgent(Node& node, EventService& events, Messenger* messenger = nullptr, MessageHandler on_message = {});

  TickResult tick();
  // Between ticks, after the doorbell rang: takes the messages and acts on
  // the membership records now (the coordinator recovers a node just
  // declared failed; survivors finish a recovery). kExpelled: rejoin at
  // the next tick.
  TickResult on_doorbell();
  std::chrono::microseconds period() const;
  // Forget what was observed (after the node rejoined as a new incarnation).
  void reset();

 private:
  void act_on_notices();
  void coordinate();
  void observe_records();
  bool progress(std::uint64_t sequence);  // true when this node is done with it
  bool leave_if_asked(std::uint64_t now_ns);
  bool leave_finished(const layout::RecoveryRecord& record);
  void announce_view_change();
  void drain_messages();

  Node& node_;
  EventService& events_;
  Messenger* messenger_;
  MessageHandler on_message_;
  const Pool& pool_;
  std::uint64_t seen_events_ = 0;
  std::map<std::uint64_t, bool> pending_;  // sequence -> system phase delivered
};

// Host-side declarations (gmm-host lose-memory / leave); also used by tests.
// Both take the membership lock as the checker and write a RecoveryRecord.
Status declare_memory_lost(const Pool& pool, std::uint32_t node);
Status request_leave(const Pool& pool, std::uint32_t node);

// A copy of a record its writers still update (every field read atomically).
layout::RecoveryRecord copy_record(const layout::RecoveryRecord& live);
// A copy of the most recent record of `kind` (sequence 0 when none).
layout::RecoveryRecord latest_record(const Pool& pool, layout::EventKind kind);

}  // namespace gmm
