// gmmd's socket side: a single-threaded poll loop over a listening unix
// socket and its client connections, each with its own input and output
// buffer. One request is handled at a time, so each runs atomically; a
// client that stops reading only stalls itself (its replies queue in its
// own buffer and its further requests wait).
//
// Every connection is one client (a gmmctl call, a libgmm process): its
// identity comes from the kernel (SO_PEERCRED) at accept, and when it hangs
// up -- exit, crash or SIGKILL alike -- the handler releases everything it
// held. A reply may carry one descriptor (a section window), sent with the
// reply's first byte by SCM_RIGHTS.
//
// A connection that sent `watch` is registered with the node's
// EventService (application phase); the agent thread posts each event to
// the ServerInbox and the loop sends it to that connection. Application
// messages the agent thread takes from the node's mailbox are posted once
// (ServerInbox::kMessageWatchers) and copied here to every connection
// watching "message". A watcher that lets more than kMaxWatchBacklog bytes
// of events pile up is dropped.
//
// Revocation (paper 3.4, 3.7): when memory is lost or a node's planned
// leave is finished, the system phase of the event posts a revocation
// notice; the loop has the handler drop every client handle whose section
// went (RequestHandler::revoke_gone_handles) before the application phase's
// event reaches the watchers.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gmm/membership.hpp"
#include "gmm/result.hpp"
#include "gmmd/handler.hpp"
#include "gmmd/inbox.hpp"

namespace gmm::gmmd {

// A bound, listening unix socket that removes its path when destroyed
// (only if the path still names this socket).
class Listener {
 public:
  // Replaces a stale socket file; fails (kExists) if a live server answers
  // on `path`, or if `path` exists and is not a socket.
  static Result<Listener> open(const std::string& path);
  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&&) = delete;
  ~Listener();
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  Listener(int fd, std::string path, ino_t inode) : fd_(fd), path_(std::move(path)), inode_(inode) {}
  int fd_;
  std::string path_;
  ino_t inode_;
};

class Server {
 public:
  static constexpr std::size_t kMaxWatchBacklog = 256 * 1024;

  // Subscribes to the system phase of memory-lost and node-leaving events:
  // the loop then revokes the client handles whose sections went.
  Server(Listener& listener, RequestHandler& handler, EventService& events, ServerInbox& inbox);
  ~Server();  // closes every connection (and so unsubscribes watchers)
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until a signal arrives on `signal_fd` (a signalfd) or the inbox
  // says stop. Returns the signal number, 0 when the inbox stopped it, or
  // -1 if polling failed.
  int run(int signal_fd);

 private:
  struct Connection {
    int fd;
    std::uint64_t serial;  // names the connection to the agent thread
    std::string in;    // bytes received, not yet handled
    std::string out;   // reply bytes not yet sent
    bool input_closed = false;  // EOF or refused input: close once all is answered
    bool watching = false;        // after `watch`: carries events only, its input is ignored
    bool watch_messages = false;  // watching "message"
    int subscription = 0;         // EventService subscription for membership events, if any
    Caller caller;     // SO_PEERCRED at accept; caller.client == serial
    UniqueFd pending_fd;  // goes out with the first byte of `out`
  };

  void accept_clients();
  void start_watch(Connection& connection, std::uint32_t kinds);
  void deliver_events();
  // Drops the watcher if it does not read its events.
  void append_event(Connection& connection, const std::string& line);
  void close_connection(Connection& connection);
  // false when the connection is finished and must be closed.
  bool receive(Connection& connection);
  bool flush(Connection& connection);
  // Handles the first complete request line, if any; true if it did.
  bool serve_one(Connection& connection);
  static bool has_line(const Connection& connection);

  Listener& listener_;
  RequestHandler& handler_;
  EventService& events_;
  ServerInbox& inbox_;
  int revocations_ = 0;  // EventService subscription (system phase)
  std::uint64_t next_serial_ = 1;
  std::vector<Connection> connections_;
};

}  // namespace gmm::gmmd
