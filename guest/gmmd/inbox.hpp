// Work other threads (the agent thread) hand to gmmd's server loop: event
// lines for watching connections (membership events for one connection,
// application messages for every connection watching messages), notices
// that client handles were revoked, and "stop"
// once the node has left. The loop polls fd(); posting wakes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace gmm::gmmd {

class ServerInbox {
 public:
  // Posted events beyond this wait for none: they are dropped (and counted),
  // so a stalled loop cannot make the agent thread grow memory without end.
  static constexpr std::size_t kMaxQueued = 4096;

  // EventLine::watcher of a line for every connection watching "message"
  // (connection serials start at 1).
  static constexpr std::uint64_t kMessageWatchers = 0;
  // EventLine::watcher of a revocation notice (not a connection): sections
  // of this node's clients were revoked (memory lost, a node's planned
  // leave finished); `line` says why. The loop handles it in order with
  // the events, so the handles are gone before the application hears of it.
  static constexpr std::uint64_t kRevocation = ~std::uint64_t{0};

  struct EventLine {
    std::uint64_t watcher;  // the connection's serial number, or kMessageWatchers
    std::string line;       // without '\n'
  };

  ServerInbox();  // fd() < 0 if no eventfd could be made
  ~ServerInbox();
  ServerInbox(const ServerInbox&) = delete;
  ServerInbox& operator=(const ServerInbox&) = delete;

  int fd() const { return fd_; }

  // Any thread.
  void post_event(std::uint64_t watcher, std::string line);
  void post_stop();

  // The server loop: clears the wake-up and takes what was posted.
  std::vector<EventLine> take_events();
  bool stop_requested();
  std::uint64_t dropped();

 private:
  void wake();

  int fd_ = -1;
  std::mutex mutex_;
  std::vector<EventLine> events_;  // guarded by mutex_
  bool stop_ = false;              // guarded by mutex_
  std::uint64_t dropped_ = 0;      // guarded by mutex_
};

}  // namespace gmm::gmmd
