// Membership, failure detection and the event service (paper 3.1, 3.4, 3.7,
// 4.1).
//
// Every node writes a heartbeat into its NodeSlot each period and watches
// its ring successor (the next member by id). A successor whose heartbeat
// has not moved for `miss_threshold` periods is declared failed: under the
// membership lock its slot becomes Failed, the view epoch is bumped and a
// RecoveryRecord is written. The coordinator (the live member with the
// lowest id) then recovers the GMM tables for every Failed node; each
// survivor, once the tables are recovered, tells its applications and marks
// itself finished in the record. Recovery time = declared -> last finished.
//
// Event order (paper 3.7): after a crash or memory loss the system recovers
// first and applications are told afterwards; for a planned removal
// applications are told first, get `leave_grace_ms`, then the system
// revokes what is left.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "gmm/clock.hpp"
#include "gmm/gmm.hpp"
#include "gmm/layout.hpp"
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

// The per-node agent: call tick() once per heartbeat period from one thread.
// With a messenger, membership changes are broadcast (view-changed) so that
// other nodes act at once, and application messages are handed to
// `on_message`: between ticks, wait on the messenger's doorbell and call
// on_doorbell() when it rings (gmmd's AgentThread does both).
class ClusterAgent {
 public:
  enum class TickResult { kOk, kExpelled, kLeft };
  using MessageHandler = std::function<void(const ReceivedMessage&)>;

  ClusterAgent(Node& node, EventService& events, Messenger* messenger = nullptr, MessageHandler on_message = {});

  TickResult tick();
  // Between ticks, after the doorbell rang: takes the messages and acts on
  // the membership records now (the coordinator recovers a node just
  // declared failed; survivors finish a recovery) without beating or
  // watching, which stay periodic. kExpelled: rejoin at the next tick.
  TickResult on_doorbell();
  std::chrono::microseconds period() const;
  // Forget what was observed (after the node rejoined as a new incarnation).
  void reset();

 private:
  void beat();
  void watch_successor(std::uint64_t now_ns);
  void declare_failed(std::uint32_t node, std::uint32_t incarnation, std::uint64_t beat, std::uint64_t now_ns);
  void coordinate();
  void observe_records();
  bool progress(std::uint64_t sequence);  // true when this node is done with it
  bool leave_if_asked(std::uint64_t now_ns);
  void announce_view_change();
  void drain_messages();

  Node& node_;
  EventService& events_;
  Messenger* messenger_;
  MessageHandler on_message_;
  const Pool& pool_;
  std::uint32_t watched_ = layout::kNoNode;
  std::uint32_t watched_incarnation_ = 0;
  std::uint64_t watched_beat_ = 0;
  std::uint64_t watched_since_ns_ = 0;
  std::uint64_t seen_events_ = 0;
  std::uint64_t last_tick_ns_ = 0;
  std::map<std::uint64_t, bool> pending_;  // sequence -> system phase delivered
};

// Host-side declarations (gmm-host lose-memory / leave); also used by tests.
// Both take the membership lock as the checker and write a RecoveryRecord.
Status declare_memory_lost(const Pool& pool, std::uint32_t node);
Status request_leave(const Pool& pool, std::uint32_t node);

// The most recent record of `kind` (sequence 0 when none).
layout::RecoveryRecord latest_record(const Pool& pool, layout::EventKind kind);

}  // namespace gmm
