// gmmd's socket side: a single-threaded poll loop over a listening unix
// socket and its client connections, each with its own input and output
// buffer. One request is handled at a time, so each runs atomically; a
// client that stops reading only stalls itself (its replies queue in its
// own buffer and its further requests wait).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "gmm/result.hpp"
#include "gmmd/handler.hpp"

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

// Periodic work between requests (the membership heartbeat). `tick`
// returns false to stop serving.
struct Ticker {
  std::chrono::microseconds period;
  std::function<bool()> tick;
};

class Server {
 public:
  Server(Listener& listener, RequestHandler& handler, Ticker ticker)
      : listener_(listener), handler_(handler), ticker_(std::move(ticker)) {}
  // Serves until a signal arrives on `signal_fd` (a signalfd) or the ticker
  // says stop. Returns the signal number, 0 when the ticker stopped it, or
  // -1 if polling failed.
  int run(int signal_fd);

 private:
  struct Connection {
    int fd;
    std::string in;    // bytes received, not yet handled
    std::string out;   // reply bytes not yet sent
    bool input_closed = false;  // EOF or refused input: close once all is answered
  };

  void accept_clients();
  // false when the connection is finished and must be closed.
  bool receive(Connection& connection);
  bool flush(Connection& connection);
  // Handles the first complete request line, if any; true if it did.
  bool serve_one(Connection& connection);
  static bool has_line(const Connection& connection);

  Listener& listener_;
  RequestHandler& handler_;
  Ticker ticker_;
  std::vector<Connection> connections_;
};

}  // namespace gmm::gmmd
