#include "ivshmem_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <set>

#include "io/deadline.hpp"
#include "io/unix_socket.hpp"
#include "ivshmem/ivshmem_protocol.hpp"

namespace gmm::host::vm {

using namespace std::chrono_literals;

namespace {

bool power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

Result<std::vector<UniqueFd>> make_eventfds(std::uint32_t count) {
  std::vector<UniqueFd> fds;
  for (std::uint32_t i = 0; i < count; ++i) {
    auto fd = ivshmem::make_eventfd();
    if (!fd) return fd.error();
    fds.push_back(std::move(*fd));
  }
  return fds;
}

// Connect notification (and step 4/5 of the welcome): id once per vector.
Status announce(int socket, std::uint16_t id, const std::vector<UniqueFd>& eventfds) {
  for (const auto& fd : eventfds) {
    auto sent = ivshmem::send_message(socket, id, fd.get());
    if (!sent) return sent;
  }
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<IvshmemServer>> IvshmemServer::create(Options options) {
  if (options.vectors == 0 || options.vectors > ivshmem::kMaxVectors)
    return make_error(Errc::kInvalidArgument, "ivshmem server: vectors must be 1.." + std::to_string(ivshmem::kMaxVectors));
  if (options.listeners.empty()) return make_error(Errc::kInvalidArgument, "ivshmem server: no listener");
  std::set<std::uint32_t> fixed;
  for (const auto& l : options.listeners)
    if (l.peer && (!fixed.insert(*l.peer).second || *l.peer == options.host_peer))
      return make_error(Errc::kInvalidArgument, "ivshmem server: peer id " + std::to_string(*l.peer) + " given twice");

  std::unique_ptr<IvshmemServer> server(new IvshmemServer(std::move(options)));
  const Options& o = server->options_;
  server->shm_.reset(::open(o.shm_path.c_str(), O_RDWR | O_CLOEXEC));
  if (!server->shm_) return make_error(Errc::kIo, errno_text("ivshmem server: open pool " + o.shm_path));
  struct stat st {};
  if (::fstat(server->shm_.get(), &st) != 0) return make_error(Errc::kIo, errno_text("fstat " + o.shm_path));
  server->shm_size_ = static_cast<std::uint64_t>(st.st_size);
  if (!o.any_size && !power_of_two(server->shm_size_))
    return make_error(Errc::kInvalidArgument, "ivshmem server: pool " + o.shm_path + " has " + std::to_string(server->shm_size_) +
                                                  " bytes; QEMU needs a power of two (it becomes a PCI BAR)");
  auto wake = ivshmem::make_eventfd();
  if (!wake) return wake.error();
  server->wake_ = std::move(*wake);
  if (o.host_peer) {
    auto fds = make_eventfds(o.vectors);
    if (!fds) return fds.error();
    server->peers_[*o.host_peer].eventfds = std::move(*fds);
  }
  for (const auto& l : o.listeners) {
    auto fd = listen_unix(l.path);
    if (!fd) return make_error(fd.error().code, "ivshmem server: " + fd.error().message);
    server->listeners_.push_back({l, std::move(*fd)});
  }
  return server;
}

IvshmemServer::~IvshmemServer() {
  for (const auto& l : listeners_) ::unlink(l.listener.path.c_str());
}

void IvshmemServer::say(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void IvshmemServer::stop() { (void)ivshmem::ring_eventfd(wake_.get()); }

Status IvshmemServer::run() {
  for (;;) {
    if (ivshmem::drain_eventfd(wake_.get()) != 0) return ok_status();
    auto served = poll_once(-1);
    if (!served) return served;
  }
}

Status IvshmemServer::serve_for(std::chrono::milliseconds timeout) {
  return poll_once(static_cast<int>(timeout.count()));
}

Status IvshmemServer::poll_once(int timeout_ms) {
  std::vector<pollfd> fds{{wake_.get(), POLLIN, 0}};
  for (const auto& l : listeners_) fds.push_back({l.fd.get(), POLLIN, 0});
  std::vector<std::uint16_t> client_ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, peer] : peers_)
      if (peer.socket) {
        fds.push_back({peer.socket.get(), POLLIN, 0});
        client_ids.push_back(id);
      }
  }
  int n = ::poll(fds.data(), fds.size(), timeout_ms);
  if (n < 0) return errno == EINTR ? ok_status() : make_error(Errc::kIo, errno_text("ivshmem server: poll"));
  for (std::size_t i = 0; i < listeners_.size(); ++i)
    if (fds[1 + i].revents & POLLIN) accept_on(listeners_[i]);
  for (std::size_t i = 0; i < client_ids.size(); ++i) {
    const pollfd& p = fds[1 + listeners_.size() + i];
    if (p.revents == 0) continue;
    // Clients never send: readable means EOF (or junk, which we drop).
    char junk[64];
    ssize_t got = ::recv(p.fd, junk, sizeof(junk), MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR) || (p.revents & (POLLHUP | POLLERR)))
      drop(client_ids[i], "disconnected");
  }
  return ok_status();
}

std::optional<std::uint16_t> IvshmemServer::pick_id(const Listener& listener) const {
  if (listener.peer) {
    auto it = peers_.find(*listener.peer);
    // A retained peer (no socket, not the host peer) may come back.
    if (it != peers_.end() && (it->second.socket || options_.host_peer == *listener.peer)) return std::nullopt;
    return listener.peer;
  }
  for (std::uint32_t id = 0; id <= ivshmem::kMaxPeerId; ++id) {
    bool reserved = peers_.count(static_cast<std::uint16_t>(id)) != 0;
    for (const auto& l : listeners_) reserved = reserved || l.listener.peer == id;
    if (!reserved) return static_cast<std::uint16_t>(id);
  }
  return std::nullopt;
}

void IvshmemServer::accept_on(const BoundListener& listener) {
  UniqueFd socket(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!socket) return;  // EAGAIN: the client gave up already
  // A client that stops reading must not wedge the loop.
  timeval send_timeout{1, 0};
  ::setsockopt(socket.get(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  const Listener& l = listener.listener;

  std::vector<std::uint16_t> unreachable;  // peers we could not tell about the new one
  {
    std::lock_guard lock(mutex_);
    auto id = pick_id(l);
    if (!id) {
      say(l.peer ? "refused a second connection for peer " + std::to_string(*l.peer) + " on " + l.path +
                       " (that peer is connected)"
                 : "refused a connection on " + l.path + ": no free peer id");
      return;
    }
    if (auto retained = peers_.find(*id); retained != peers_.end()) {
      // It comes back with the eventfds everyone else still holds.
      Peer peer{std::move(socket), std::move(retained->second.eventfds)};
      peers_.erase(retained);
      if (auto welcomed = welcome(*id, peer); !welcomed) {
        peer.socket = UniqueFd();
        peers_.emplace(*id, std::move(peer));
        return say("peer " + std::to_string(*id) + ": welcome failed: " + welcomed.error().message);
      }
      peers_.emplace(*id, std::move(peer));
      say("peer " + std::to_string(*id) + " reconnected on " + l.path + " (retained eventfds)");
      return;
    }
    auto eventfds = make_eventfds(options_.vectors);
    if (!eventfds) return say("peer " + std::to_string(*id) + ": " + eventfds.error().message);
    Peer peer{std::move(socket), std::move(*eventfds)};
    if (auto welcomed = welcome(*id, peer); !welcomed)
      return say("peer " + std::to_string(*id) + ": welcome failed: " + welcomed.error().message);
    for (const auto& [other_id, other] : peers_)
      if (other.socket && !announce(other.socket.get(), *id, peer.eventfds)) unreachable.push_back(other_id);
    peers_.emplace(*id, std::move(peer));
    say("peer " + std::to_string(*id) + " connected on " + l.path);
  }
  for (auto id : unreachable) drop(id, "unreachable");
}

// Steps 1-5 of the protocol for a new client `id` (not yet in peers_).
Status IvshmemServer::welcome(std::uint16_t id, Peer& peer) {
  int s = peer.socket.get();
  for (auto sent : {ivshmem::send_message(s, ivshmem::kProtocolVersion), ivshmem::send_message(s, id),
                    ivshmem::send_message(s, ivshmem::kShmMessage, shm_.get())})
    if (!sent) return sent;
  for (const auto& [other_id, other] : peers_) {
    auto sent = announce(s, other_id, other.eventfds);
    if (!sent) return sent;
  }
  return announce(s, id, peer.eventfds);
}

void IvshmemServer::drop(std::uint16_t id, std::string_view why) {
  std::lock_guard lock(mutex_);
  auto it = peers_.find(id);
  if (it == peers_.end() || !it->second.socket) return;
  bool fixed = false;
  for (const auto& l : listeners_) fixed = fixed || l.listener.peer == id;
  if (options_.retain_peers && fixed) {
    it->second.socket = UniqueFd();  // keeps the eventfds; nobody is told
    say("peer " + std::to_string(id) + " " + std::string(why) + " (eventfds retained)");
    return;
  }
  peers_.erase(it);  // closes its socket and eventfds
  for (const auto& [other_id, other] : peers_)
    if (other.socket) (void)ivshmem::send_message(other.socket.get(), id);  // a broken one is dropped on its own EOF
  say("peer " + std::to_string(id) + " " + std::string(why));
}

std::vector<std::uint16_t> IvshmemServer::peers() const {
  std::lock_guard lock(mutex_);
  std::vector<std::uint16_t> ids;
  for (const auto& entry : peers_) ids.push_back(entry.first);
  return ids;
}

Status IvshmemServer::ring(std::uint16_t peer, std::uint32_t vector) {
  std::lock_guard lock(mutex_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return make_error(Errc::kNotFound, "ivshmem: no peer " + std::to_string(peer) + " connected");
  if (vector >= it->second.eventfds.size())
    return make_error(Errc::kNotFound, "ivshmem: peer " + std::to_string(peer) + " has no vector " + std::to_string(vector));
  return ivshmem::ring_eventfd(it->second.eventfds[vector].get());
}

int IvshmemServer::host_eventfd(std::uint32_t vector) const {
  if (!options_.host_peer || vector >= options_.vectors) return -1;
  std::lock_guard lock(mutex_);
  return peers_.at(*options_.host_peer).eventfds[vector].get();  // never removed
}

Result<std::uint64_t> IvshmemServer::wait_host(std::chrono::milliseconds timeout) {
  if (!options_.host_peer) return make_error(Errc::kInvalidArgument, "ivshmem server has no host peer");
  std::vector<int> fds;
  for (std::uint32_t v = 0; v < options_.vectors; ++v) fds.push_back(host_eventfd(v));
  return ivshmem::wait_eventfds(fds, timeout, "ivshmem host peer");
}

}  // namespace gmm::host::vm
