#include "watcher/watcher.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include "gmm/fencing.hpp"
#include "gmm/messages.hpp"
#include "ivshmem/ivshmem_client.hpp"
#include "ivshmem/ivshmem_doorbell.hpp"
#include "launcher/doorbell_server.hpp"
#include "pool/pool_view.hpp"

namespace gmm::host {
namespace {

using namespace std::chrono_literals;
using layout::FenceOutcome;
using layout::NodeState;

constexpr auto kTick = 1ms;
constexpr std::uint64_t kFastWatchNs = 100'000'000;
constexpr auto kKillTimeout = 10s;  // SIGKILL until the process is gone

// "HH:MM:SS.uuuuuu" (UTC) of a CLOCK_REALTIME time.
std::string utc_time_text(std::uint64_t ns) {
  const std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d.%06llu", utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<unsigned long long>(ns % 1'000'000'000 / 1000));
  return text;
}

void crash_here(const char* point) {
  const char* armed = std::getenv(kWatcherCrashEnv);
  if (armed != nullptr && std::string_view(armed) == point) ::kill(::getpid(), SIGKILL);
}

bool alive_state(NodeState state) { return state == NodeState::kMember || state == NodeState::kJoining; }

// A pidfd turns readable once its process has exited.
bool exited(const ProcessHandle& process) {
  pollfd p{process.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// DIR's cluster.json was replaced (save_cluster renames over it): the
// watcher reloads it, for nodes restarted meanwhile.
class RecordChanges : public EventSource {
 public:
  RecordChanges(UniqueFd inotify, bool& changed) : inotify_(std::move(inotify)), changed_(changed) {}
  int fd() const override { return inotify_.get(); }
  Read read() override {
    alignas(inotify_event) char buffer[4096];
    while (::read(inotify_.get(), buffer, sizeof buffer) > 0) {
    }
    changed_ = true;
    return {};
  }

 private:
  UniqueFd inotify_;
  bool& changed_;
};

class Watcher {
 public:
  Watcher(Cluster cluster, Launcher& launcher, MappedPool mapped, LivenessStream stream, std::ostream& log)
      : cluster_(std::move(cluster)),
        launcher_(launcher),
        mapped_(std::move(mapped)),
        stream_(std::move(stream)),
        log_(log) {}

  Status start() {
    UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (inotify && ::inotify_add_watch(inotify.get(), cluster_.dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) >= 0) {
      if (Status added = stream_.add(std::make_unique<RecordChanges>(std::move(inotify), record_changed_)); !added)
        return added;
    } else {
      say("cannot watch " + cluster_.state_path() + " for changes; restarted nodes are picked up every second");
    }
    for (const NodeRecord& node : cluster_.nodes) {
      if (Status watched = watch_process(node.id); !watched) return watched;
    }
    auto doorbell = ivshmem::Client::connect(watcher_doorbell_socket(cluster_), ivshmem::kGmmVectors, 2s);
    if (doorbell) {
      doorbell_.emplace(std::move(*doorbell));
    } else {
      say("cannot ring the nodes (" + doorbell.error().message + "): they see notices at their next heartbeat tick");
    }
    seen_events_ = load_acquire(pool().cluster().events);
    say("watching " + std::to_string(cluster_.nodes.size()) + " nodes (" + std::string(launcher_.name()) +
        " mode, detector " + std::string(detector_name(cluster_.detector)) + ", pid " + std::to_string(::getpid()) + ")");
    return ok_status();
  }

  Status run(const std::atomic<bool>& stop) {
    auto last_reload = std::chrono::steady_clock::now();
    while (!stop.load()) {
      tick();
      // Right after a notice: look every 100 us for its declaration, so the
      // host's time of it (host_seen_ns) is that close (at most 100 ms).
      const bool soon = notice_ns_ != 0 && realtime_ns() - notice_ns_ < kFastWatchNs;
      if (soon) std::this_thread::sleep_for(100us);
      auto event = stream_.next(soon ? 0ms : kTick);
      if (!event) return event.error();
      while (*event) {
        handle(**event);
        event = stream_.next(0ms);
        if (!event) return event.error();
      }
      if (record_changed_ || std::chrono::steady_clock::now() - last_reload > 1s) {
        record_changed_ = false;
        last_reload = std::chrono::steady_clock::now();
        reload();
      }
    }
    watcher_stopped(pool());
    say("stopped; the nodes' heartbeat detects failures alone");
    return ok_status();
  }

 private:
  // What the watcher knows of one node's process.
  struct NodeWatch {
    std::int64_t pid = 0;                  // the recorded pid this watch is for
    std::optional<ProcessHandle> process;  // for fencing; nullopt: not running
    std::uint64_t since_ns = 0;            // watching this process since (host clock)
    std::uint32_t seen = 0;                // newest incarnation seen live while it ran
    std::uint32_t dead_up_to = 0;          // incarnations of processes that are gone
    std::uint32_t fenced = 0;              // newest incarnation this watcher fenced
    std::uint64_t fenced_ns = 0;
  };

  const Pool& pool() const { return mapped_.pool; }
  // Each line starts with the host's clock (UTC, microseconds), so a log
  // shows where the time between a death and its declaration went.
  void say(const std::string& line) { log_ << utc_time_text(realtime_ns()) << " " << line << std::endl; }

  Status watch_process(std::uint32_t id) {
    NodeWatch& w = nodes_[id];
    w.pid = cluster_.nodes.at(id).pid;
    w.since_ns = realtime_ns();
    w.seen = 0;
    auto process = launcher_.open_node_process(cluster_, id);
    if (!process) return process.error();
    w.process = std::move(*process);
    return launcher_.watch_node(cluster_, id, stream_);
  }

  void tick() {
    const std::uint64_t now = realtime_ns();
    watcher_beat(pool(), now, static_cast<std::uint64_t>(::getpid()));
    for (auto& [id, w] : nodes_) {
      const layout::NodeSlot& slot = pool().node_slot(id);
      const auto state = load_state<NodeState>(slot.state);
      const std::uint32_t incarnation = load_acquire(slot.incarnation);
      // Which incarnation this process runs: one seen live while it still
      // ran (checked after reading the slot), newer than any dead process's.
      if (w.process && alive_state(state) && incarnation > w.dead_up_to && incarnation > w.seen &&
          !exited(*w.process))
        w.seen = incarnation;
      if (state == NodeState::kFailed && load_acquire(slot.fenced) < incarnation && w.fenced < incarnation)
        fence(id, incarnation);
    }
    stamp_records(now);
    if (doorbell_) (void)doorbell_->apply_pending();
  }

  // New failure records get the host's time of seeing them (VM guests'
  // clocks differ from the host's by tens of ms), and the fence that
  // happened before the declaration (a process that had exited).
  void stamp_records(std::uint64_t now) {
    const std::uint64_t events = load_acquire(pool().cluster().events);
    for (std::uint64_t seq = seen_events_ + 1; seq <= events; ++seq) {
      layout::RecoveryRecord& r = pool().recovery(seq);
      if (load_acquire(r.sequence) != seq || static_cast<layout::EventKind>(r.kind) != layout::EventKind::kNodeFailed)
        continue;
      if (load_acquire(r.host_seen_ns) == 0) store_release(r.host_seen_ns, now);
      notice_ns_ = 0;
      auto w = nodes_.find(r.node);
      if (w != nodes_.end() && w->second.fenced >= r.incarnation && load_acquire(r.fence) == 0) {
        store_release(r.fenced_ns, w->second.fenced_ns);
        store_release(r.fence, static_cast<std::uint32_t>(FenceOutcome::kFenced));
      }
      say("node " + std::to_string(r.node) + " (incarnation " + std::to_string(r.incarnation) + ") declared failed by node " +
          std::to_string(r.declared_by) + (load_acquire(r.detected_by) == static_cast<std::uint32_t>(layout::DetectedBy::kHost)
                                               ? " on our notice"
                                               : " (heartbeat)"));
    }
    seen_events_ = events;
  }

  void handle(const NodeEvent& event) {
    auto found = nodes_.find(event.node);
    if (found == nodes_.end()) return;
    NodeWatch& w = found->second;
    switch (event.kind) {
      case NodeEventKind::kExited:
        // Handled already (we fenced it, or it was not running when the
        // watch began), or an older process's exit after a restart.
        if (!w.process || !exited(*w.process)) return;
        say("node " + std::to_string(event.node) + ": " + event.detail);
        process_gone(event.node, event.time_ns);
        return;
      case NodeEventKind::kPanicked:
      case NodeEventKind::kShutdown:
        if (event.time_ns < w.since_ns) return;  // an older QEMU's
        say("node " + std::to_string(event.node) + ": guest " + std::string(node_event_name(event.kind)) +
            (event.detail.empty() ? "" : " (" + event.detail + ")"));
        notice(event.node, w.seen);
        return;
      case NodeEventKind::kStopped:  // paused: the heartbeat tells a pause from a blip; then we fence
      case NodeEventKind::kResumed:
        return;
    }
  }

  void process_gone(std::uint32_t id, std::uint64_t) {
    NodeWatch& w = nodes_[id];
    w.process.reset();
    w.dead_up_to = std::max(w.dead_up_to, w.seen);
    if (w.seen == 0) return;  // it never ran an incarnation we saw: the heartbeat will tell
    notice(id, w.seen);
    // Its process is gone; what else of the node may write the pool goes too.
    if (Status clients = launcher_.fence_clients(cluster_, id); !clients) say("node " + std::to_string(id) + ": " + clients.error().message);
    crash_here("fence.killed");
    settle(id, w.seen, FenceOutcome::kFenced);
  }

  // Posts the notice if `incarnation` is still the node's current, live one.
  void notice(std::uint32_t id, std::uint32_t incarnation) {
    if (incarnation == 0) return;
    const layout::NodeSlot& slot = pool().node_slot(id);
    if (!alive_state(load_state<NodeState>(slot.state)) || load_acquire(slot.incarnation) != incarnation) return;
    post_notice(pool(), id, incarnation);
    notice_ns_ = realtime_ns();
    crash_here("notice.posted");
    ring_all_but(id);
    say("node " + std::to_string(id) + ": notice posted for incarnation " + std::to_string(incarnation));
  }

  // (id, incarnation) was declared failed: stop its process for good if it
  // is the one that ran that incarnation, then the node's clients.
  void fence(std::uint32_t id, std::uint32_t incarnation) {
    NodeWatch& w = nodes_[id];
    FenceOutcome outcome = FenceOutcome::kFenced;
    if (w.process && w.seen == incarnation && !exited(*w.process)) {
      const std::string who = "node " + std::to_string(id) + "'s " + std::string(launcher_.node_process()) + " (pid " +
                              std::to_string(w.process->pid()) + ")";
      if (Status killed = kill_and_wait(*w.process, who, kKillTimeout); !killed) {
        say("fence of node " + std::to_string(id) + " failed: " + killed.error().message + "; recovery goes ahead");
        outcome = FenceOutcome::kGaveUp;
      } else {
        say("node " + std::to_string(id) + " (incarnation " + std::to_string(incarnation) + "): declared failed while " +
            who + " still ran: killed");
        w.process.reset();
        w.dead_up_to = std::max(w.dead_up_to, w.seen);
      }
    }
    if (Status clients = launcher_.fence_clients(cluster_, id); !clients) {
      say("node " + std::to_string(id) + ": " + clients.error().message);
      outcome = FenceOutcome::kGaveUp;
    }
    crash_here("fence.killed");
    settle(id, incarnation, outcome);
  }

  void settle(std::uint32_t id, std::uint32_t incarnation, FenceOutcome outcome) {
    NodeWatch& w = nodes_[id];
    w.fenced = std::max(w.fenced, incarnation);
    w.fenced_ns = realtime_ns();
    mark_fenced(pool(), id, incarnation, outcome, w.fenced_ns);
    ring_all_but(id);  // the coordinator recovers it now
  }

  void ring_all_but(std::uint32_t id) {
    if (!doorbell_) return;
    for (const NodeRecord& node : cluster_.nodes) {
      if (node.id != id) (void)doorbell_->ring(static_cast<std::uint16_t>(node.id), kDoorbellVector);
    }
  }

  // `restart` recorded a new process for a node: watch that one.
  void reload() {
    auto loaded = load_cluster(cluster_.dir);
    if (!loaded || !*loaded) return;  // removed (down) or being rewritten: next time
    Cluster fresh = std::move(**loaded);
    if (fresh.nodes.size() != cluster_.nodes.size()) return;
    std::vector<std::uint32_t> changed;
    for (const NodeRecord& node : fresh.nodes) {
      if (node.pid != nodes_[node.id].pid) changed.push_back(node.id);
    }
    cluster_ = std::move(fresh);
    for (std::uint32_t id : changed) {
      NodeWatch& w = nodes_[id];
      if (w.process && exited(*w.process)) process_gone(id, realtime_ns());
      if (Status watched = watch_process(id); !watched) {
        say("node " + std::to_string(id) + ": cannot watch its new process: " + watched.error().message);
      } else {
        say("node " + std::to_string(id) + ": watching its new " + std::string(launcher_.node_process()) + " (pid " +
            std::to_string(cluster_.nodes.at(id).pid) + ")");
      }
    }
  }

  Cluster cluster_;
  Launcher& launcher_;
  MappedPool mapped_;
  LivenessStream stream_;
  std::ostream& log_;
  std::optional<ivshmem::Client> doorbell_;
  std::map<std::uint32_t, NodeWatch> nodes_;
  std::uint64_t seen_events_ = 0;
  bool record_changed_ = false;
  std::uint64_t notice_ns_ = 0;  // host clock of the last notice not yet seen declared
};

}  // namespace

Status run_watcher(const Cluster& cluster, Launcher& launcher, const std::atomic<bool>& stop, std::ostream& log) {
  auto mapped = map_pool(cluster.pool_path);
  if (!mapped) return mapped.error();
  auto stream = LivenessStream::create();
  if (!stream) return stream.error();
  Watcher watcher(cluster, launcher, std::move(*mapped), std::move(*stream), log);
  if (Status started = watcher.start(); !started) return started;
  return watcher.run(stop);
}

}  // namespace gmm::host
