#include "gmmd/server.hpp"

#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <spdlog/spdlog.h>

#include "io/unix_socket.hpp"
#include "proto/client.hpp"

namespace gmm::gmmd {
namespace {

// Beyond this, new clients are turned away rather than exhaust descriptors.
constexpr std::size_t kMaxConnections = 128;
constexpr std::size_t kReceiveChunk = 64 * 1024;

}  // namespace

Result<Listener> Listener::open(const std::string& path) {
  auto address = unix_address(path);
  if (!address) return address.error();
  struct stat existing;
  if (::lstat(path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode)) {
      return make_error(Errc::kExists, path + " exists and is not a socket; refusing to replace it");
    }
    if (proto::Client::connect(path)) {
      return make_error(Errc::kExists, "another gmmd is already serving on " + path);
    }
    spdlog::info("removing stale socket {}", path);
    ::unlink(path.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(Errc::kIo, std::string("socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)) != 0 || ::listen(fd, 64) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EADDRINUSE) return make_error(Errc::kExists, "another gmmd is already serving on " + path);
    return make_error(Errc::kIo, "cannot listen on " + path + ": " + std::strerror(err));
  }
  // Every local user may connect: each request is checked against the
  // caller's SO_PEERCRED identity, not against who could open the socket.
  ::chmod(path.c_str(), 0666);
  struct stat bound;
  ::stat(path.c_str(), &bound);
  return Listener(fd, path, bound.st_ino);
}

Listener::Listener(Listener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), inode_(other.inode_) {}

Listener::~Listener() {
  if (fd_ < 0) return;
  ::close(fd_);
  // Only our own socket: a successor may already have replaced it.
  struct stat current;
  if (::lstat(path_.c_str(), &current) == 0 && current.st_ino == inode_) ::unlink(path_.c_str());
}

Server::Server(Listener& listener, RequestHandler& handler, EventService& events, ServerInbox& inbox)
    : listener_(listener), handler_(handler), events_(events), inbox_(inbox) {
  auto revoking = [](const Event& event) {
    return event.kind == layout::EventKind::kMemoryLost || event.kind == layout::EventKind::kNodeLeaving;
  };
  // Runs in the agent thread, after the core forgot the revoked shares.
  auto post = [inbox = &inbox_](const Event& event) {
    const bool lost = event.kind == layout::EventKind::kMemoryLost;
    inbox->post_event(ServerInbox::kRevocation,
                      (lost ? "the memory of node " : "node ") + std::to_string(event.node) +
                          (lost ? " was lost" : " left the cluster and its memory was revoked"));
  };
  revocations_ = events_.subscribe(EventService::Phase::kSystem, revoking, post);
}

Server::~Server() {
  events_.unsubscribe(revocations_);
  for (Connection& connection : connections_) close_connection(connection);
}

int Server::run(int signal_fd) {
  std::vector<pollfd> fds;
  constexpr std::size_t kFirstConnection = 3;  // after the signal, listener and inbox descriptors
  for (;;) {
    fds.clear();
    fds.push_back({signal_fd, POLLIN, 0});
    fds.push_back({listener_.fd(), POLLIN, 0});
    fds.push_back({inbox_.fd(), POLLIN, 0});
    bool lines_waiting = false;
    for (const Connection& connection : connections_) {
      short events = 0;
      if (connection.watching) {
        events = static_cast<short>(POLLIN | (connection.out.empty() ? 0 : POLLOUT));  // POLLIN: hang-ups
      } else if (!connection.out.empty()) {
        events = POLLOUT;  // no reading until the client takes its replies
      } else {
        if (!connection.input_closed) events = POLLIN;
        lines_waiting = lines_waiting || has_line(connection);
      }
      fds.push_back({connection.fd, events, 0});
    }
    if (::poll(fds.data(), fds.size(), lines_waiting ? 0 : -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("poll: {}", std::strerror(errno));
      return -1;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) == sizeof info) return static_cast<int>(info.ssi_signo);
    }
    if (fds[2].revents & POLLIN) {
      if (inbox_.stop_requested()) return 0;
      deliver_events();
    }

    // Fairness: at most one request per connection per round.
    std::size_t polled = fds.size() - kFirstConnection;
    for (std::size_t i = 0; i < polled; ++i) {
      Connection& connection = connections_[i];
      if (connection.fd < 0) continue;  // dropped while delivering events
      short revents = fds[i + kFirstConnection].revents;
      bool alive = (revents & (POLLERR | POLLNVAL)) == 0;
      if (alive && (revents & POLLOUT)) alive = flush(connection);
      if (alive && (revents & (POLLIN | POLLHUP))) alive = receive(connection);
      if (alive && !connection.watching && connection.out.empty() && serve_one(connection)) alive = flush(connection);
      bool finished = connection.input_closed &&
                      (connection.watching || (connection.out.empty() && !has_line(connection)));
      if (!alive || finished) close_connection(connection);
    }
    std::erase_if(connections_, [](const Connection& connection) { return connection.fd < 0; });
    if (fds[1].revents & POLLIN) accept_clients();
  }
}

void Server::accept_clients() {
  for (;;) {
    int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) spdlog::warn("accept: {}", std::strerror(errno));
      return;
    }
    if (connections_.size() >= kMaxConnections) {
      spdlog::warn("too many clients ({}); refusing a connection", connections_.size());
      ::close(fd);
      continue;
    }
    ucred peer{};
    socklen_t peer_size = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0) {
      spdlog::warn("SO_PEERCRED: {}; refusing a connection", std::strerror(errno));
      ::close(fd);
      continue;
    }
    std::uint64_t serial = next_serial_++;
    Caller caller{serial, peer.pid, peer.uid, peer.gid};
    connections_.push_back(Connection{fd, serial, {}, {}, false, false, false, 0, caller, UniqueFd()});
  }
}

void Server::start_watch(Connection& connection, std::uint32_t kinds) {
  connection.watching = true;
  connection.watch_messages = (kinds & proto::kMessageEventBit) != 0;
  // No kinds: every membership kind. Only "message": no membership events.
  const std::uint32_t membership = kinds & ~proto::kMessageEventBit;
  if (kinds == 0 || membership != 0) {
    auto wanted = [membership](const Event& event) {
      return membership == 0 || (membership & proto::event_bit(event.kind)) != 0;
    };
    // Runs in the agent thread: only hands the line over.
    auto post = [inbox = &inbox_, serial = connection.serial](const Event& event) {
      inbox->post_event(serial, proto::encode_event(event));
    };
    connection.subscription = events_.subscribe(EventService::Phase::kApplication, wanted, post);
  }
  connection.in.clear();
  spdlog::info("a client is watching events{} (connection {})", connection.watch_messages ? " and messages" : "",
               connection.serial);
}

void Server::deliver_events() {
  for (ServerInbox::EventLine& event : inbox_.take_events()) {
    if (event.watcher == ServerInbox::kRevocation) {
      handler_.revoke_gone_handles(event.line);
      continue;
    }
    if (event.watcher == ServerInbox::kMessageWatchers) {
      for (Connection& connection : connections_) {
        if (connection.fd >= 0 && connection.watch_messages) append_event(connection, event.line);
      }
      continue;
    }
    auto it = std::find_if(connections_.begin(), connections_.end(), [&](const Connection& connection) {
      return connection.serial == event.watcher && connection.watching && connection.fd >= 0;
    });
    if (it != connections_.end()) append_event(*it, event.line);  // else it hung up meanwhile
  }
}

void Server::append_event(Connection& connection, const std::string& line) {
  if (connection.out.size() + line.size() + 1 > kMaxWatchBacklog) {
    spdlog::warn("watcher on connection {} does not read its events; dropping it", connection.serial);
    close_connection(connection);
    return;
  }
  connection.out += line + "\n";
  if (!flush(connection)) close_connection(connection);
}

void Server::close_connection(Connection& connection) {
  if (connection.fd < 0) return;
  if (connection.subscription != 0) events_.unsubscribe(connection.subscription);
  if (connection.watching) spdlog::info("watcher on connection {} is gone", connection.serial);
  handler_.client_gone(connection.caller);
  ::close(connection.fd);
  connection.fd = -1;
  connection.watching = false;
  connection.watch_messages = false;
  connection.subscription = 0;
  connection.pending_fd.reset();
}

bool Server::receive(Connection& connection) {
  char chunk[kReceiveChunk];
  ssize_t got = ::recv(connection.fd, chunk, sizeof chunk, MSG_DONTWAIT);
  if (got < 0) return errno == EINTR || errno == EAGAIN;
  if (got == 0) {
    // The client finished sending; a last line without '\n' still counts.
    connection.input_closed = true;
    if (!connection.in.empty() && connection.in.back() != '\n') connection.in += '\n';
    return true;
  }
  if (connection.watching) return true;  // a watcher's input is ignored
  connection.in.append(chunk, static_cast<std::size_t>(got));
  if (!has_line(connection) && connection.in.size() > proto::kMaxRequestLine) {
    // No way to find the next request boundary cheaply: answer and hang up.
    spdlog::warn("a client sent more than {} bytes without a newline; closing it", proto::kMaxRequestLine);
    connection.out = proto::encode_error(make_error(Errc::kInvalidArgument,
                                                    "request line longer than " +
                                                        std::to_string(proto::kMaxRequestLine) + " bytes")) +
                     "\n";
    connection.in.clear();
    connection.input_closed = true;
  }
  return true;
}

namespace {

// The reply's first byte, with the descriptor as ancillary data.
bool send_with_descriptor(int socket, char first, int descriptor) {
  return send_with_descriptors(socket, {&first, 1}, {&descriptor, 1}, MSG_NOSIGNAL | MSG_DONTWAIT) == 1;
}

}  // namespace

bool Server::flush(Connection& connection) {
  if (connection.pending_fd && !connection.out.empty()) {
    if (!send_with_descriptor(connection.fd, connection.out.front(), connection.pending_fd.get())) {
      return errno == EINTR || errno == EAGAIN;
    }
    connection.pending_fd.reset();
    connection.out.erase(0, 1);
  }
  while (!connection.out.empty()) {
    ssize_t sent = ::send(connection.fd, connection.out.data(), connection.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) return errno == EINTR || errno == EAGAIN;
    connection.out.erase(0, static_cast<std::size_t>(sent));
  }
  return true;
}

bool Server::serve_one(Connection& connection) {
  auto newline = connection.in.find('\n');
  if (newline == std::string::npos) return false;
  std::string_view line(connection.in.data(), newline);
  Handled handled = handler_.handle_line(line, connection.caller);
  connection.out = std::move(handled.reply) + "\n";
  connection.pending_fd = std::move(handled.descriptor);
  connection.in.erase(0, newline + 1);
  if (handled.starts_watch) start_watch(connection, handled.watch_events);
  return true;
}

bool Server::has_line(const Connection& connection) { return connection.in.find('\n') != std::string::npos; }

}  // namespace gmm::gmmd
