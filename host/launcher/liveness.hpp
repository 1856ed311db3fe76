// A stream of liveness events from a cluster's nodes: a node's process
// exited, its VM stopped, resumed, panicked or shut down. Each backend feeds
// it from descriptors that turn readable when something happens (a pidfd
// per node process; in VM mode also a QMP event monitor per node), all in
// one epoll set: next() sleeps in epoll_wait, nothing polls /proc or QMP.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"
#include "launcher/process_handle.hpp"

namespace gmm::host {

enum class NodeEventKind {
  kExited,    // the node's process (gmmd, QEMU) is gone
  kStopped,   // the VM stopped running (paused, or panicked with -action panic=pause)
  kResumed,   // the VM runs again
  kPanicked,  // the guest kernel panicked (pvpanic)
  kShutdown,  // QEMU is shutting down (guest poweroff, QMP quit); kExited follows
};
std::string_view node_event_name(NodeEventKind kind);  // exited, stopped, resumed, panicked, shutdown

struct NodeEvent {
  std::uint32_t node = 0;
  NodeEventKind kind = NodeEventKind::kExited;
  std::uint64_t time_ns = 0;  // CLOCK_REALTIME: the platform's time if it gave one (QMP), else when it was read
  std::string detail;         // "gmmd pid 42 exited", QMP's reason, ...
};

// One descriptor of a stream, and how to read what it says.
class EventSource {
 public:
  virtual ~EventSource() = default;
  virtual int fd() const = 0;
  struct Read {
    std::vector<NodeEvent> events;
    bool ended = false;  // nothing more will come: the stream drops the source
  };
  // Called when fd() is readable.
  virtual Read read() = 0;
};

// The exit of one node's process, through its pidfd.
class ProcessExitSource : public EventSource {
 public:
  // `what` names the process in the event's detail: "gmmd", "QEMU".
  ProcessExitSource(std::uint32_t node, ProcessHandle process, std::string what)
      : node_(node), process_(std::move(process)), what_(std::move(what)) {}
  int fd() const override { return process_.fd(); }
  Read read() override;

 private:
  std::uint32_t node_;
  ProcessHandle process_;
  std::string what_;
};

class LivenessStream {
 public:
  // Errors: epoll_create1 failed.
  static Result<LivenessStream> create();

  // Errors: epoll_ctl refused the source's descriptor.
  Status add(std::unique_ptr<EventSource> source);
  // Queues an event that is already known (a node not running when the
  // watch began): next() returns it before anything else.
  void report(NodeEvent event);

  // The next event, waiting at most `timeout`; nullopt when none came.
  // Errors: epoll_wait failed.
  Result<std::optional<NodeEvent>> next(std::chrono::milliseconds timeout);
  // No source is left and nothing is queued: next() can only time out.
  bool finished() const { return sources_.empty() && queued_.empty(); }

 private:
  explicit LivenessStream(UniqueFd epoll) : epoll_(std::move(epoll)) {}
  void drop(int fd);

  UniqueFd epoll_;
  std::map<int, std::unique_ptr<EventSource>> sources_;  // by descriptor
  std::deque<NodeEvent> queued_;
};

}  // namespace gmm::host
