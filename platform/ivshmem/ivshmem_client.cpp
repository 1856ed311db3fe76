#include "ivshmem/ivshmem_client.hpp"

#include <poll.h>

#include <cerrno>

#include "io/deadline.hpp"
#include "io/unix_socket.hpp"
#include "ivshmem/ivshmem_protocol.hpp"

namespace gmm::ivshmem {

namespace {

Error protocol_error(const std::string& what) { return make_error(Errc::kIo, "ivshmem protocol: " + what); }

// The next message; the server closing the connection is an error here.
Result<Message> next(int socket, Deadline& deadline) {
  auto message = receive_message(socket, deadline.remaining());
  if (!message) return message.error();
  if (!*message) return protocol_error("the server closed the connection (is this socket's peer id taken?)");
  return std::move(**message);
}

}  // namespace

Result<Client> Client::connect(const std::string& path, std::uint32_t vectors,
                                             std::chrono::milliseconds timeout) {
  if (vectors == 0 || vectors > kMaxVectors) return make_error(Errc::kInvalidArgument, "bad vector count");
  Client client;
  client.vectors_ = vectors;
  auto socket = connect_unix(path);
  if (!socket) return socket.error();
  client.socket_ = std::move(*socket);
  Deadline deadline(timeout);
  const int s = client.socket_.get();

  auto version = next(s, deadline);
  if (!version) return version.error();
  if (version->value != kProtocolVersion || version->fd)
    return protocol_error("version " + std::to_string(version->value) + ", expected 0");
  auto id = next(s, deadline);
  if (!id) return id.error();
  if (id->value < 0 || id->value > kMaxPeerId || id->fd)
    return protocol_error("bad own id " + std::to_string(id->value));
  client.id_ = static_cast<std::uint16_t>(id->value);
  auto shm = next(s, deadline);
  if (!shm) return shm.error();
  if (shm->value != kShmMessage || !shm->fd) return protocol_error("expected -1 with the shared memory fd");
  client.shm_ = std::move(shm->fd);
  // Peers, then our own vectors: the welcome ends with our id's last vector.
  while (client.eventfds_[client.id_].size() < vectors) {
    auto message = next(s, deadline);
    if (!message) return message.error();
    if (!message->fd) return protocol_error("peer " + std::to_string(message->value) + " left during the welcome");
    auto applied = client.apply(message->value, std::move(message->fd));
    if (!applied) return applied.error();
  }
  return client;
}

Status Client::apply(std::int64_t value, UniqueFd fd) {
  if (value < 0 || value > kMaxPeerId) return protocol_error("bad peer id " + std::to_string(value));
  auto id = static_cast<std::uint16_t>(value);
  if (!fd) {
    if (id == id_) return protocol_error("told that we disconnected");
    eventfds_.erase(id);
    return ok_status();
  }
  auto& fds = eventfds_[id];
  if (fds.size() < vectors_) fds.push_back(std::move(fd));  // extra vectors: dropped, as QEMU's spec says
  return ok_status();
}

std::vector<std::uint16_t> Client::peers() const {
  std::vector<std::uint16_t> ids;
  for (const auto& entry : eventfds_)
    if (entry.first != id_) ids.push_back(entry.first);
  return ids;
}

Result<int> Client::update(std::chrono::milliseconds timeout) {
  return apply_messages(timeout, std::chrono::milliseconds(50));  // 50 ms: the rest of a burst (N per connect)
}

Result<int> Client::apply_pending() { return apply_messages(std::chrono::milliseconds(0), std::chrono::milliseconds(0)); }

Result<int> Client::apply_messages(std::chrono::milliseconds first_wait, std::chrono::milliseconds next_wait) {
  int applied = 0;
  auto wait = first_wait;
  for (;;) {
    auto readable = wait_readable(socket_.get(), wait);
    if (!readable) return readable.error();
    if (!*readable) return applied;
    // A message is one 8-byte sendmsg: once readable, all of it is there.
    auto message = receive_message(socket_.get(), std::chrono::milliseconds(1000));
    if (!message) return message.error();
    if (!*message) return protocol_error("the server closed the connection");
    auto ok = apply((*message)->value, std::move((*message)->fd));
    if (!ok) return ok.error();
    ++applied;
    wait = next_wait;
  }
}

std::vector<int> Client::own_eventfds() const {
  std::vector<int> fds;
  for (const auto& fd : eventfds_.at(id_)) fds.push_back(fd.get());
  return fds;
}

Status Client::ring(std::uint16_t peer, std::uint32_t vector) const {
  auto it = eventfds_.find(peer);
  if (it == eventfds_.end()) return make_error(Errc::kNotFound, "ivshmem: no peer " + std::to_string(peer));
  if (vector >= it->second.size())
    return make_error(Errc::kNotFound, "ivshmem: peer " + std::to_string(peer) + " has no vector " + std::to_string(vector));
  return ring_eventfd(it->second[vector].get());
}

Result<std::uint64_t> Client::wait(std::chrono::milliseconds timeout) {
  std::vector<int> own;
  for (const auto& fd : eventfds_.at(id_)) own.push_back(fd.get());
  return wait_eventfds(own, timeout, "ivshmem client");
}

}  // namespace gmm::ivshmem
