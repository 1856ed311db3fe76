// A client of the ivshmem server, the same side of the protocol as QEMU's
// ivshmem-doorbell device: gmmd's doorbell in process mode (ClientDoorbell),
// tests, and any host process that wants to be a peer of its own (ring
// guests, receive their doorbells) without living in the server process.
// Single-threaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm::ivshmem {

class Client {
 public:
  // Connects and reads the welcome (version, id, shm, the peers, own vectors)
  // as a device with `vectors` vectors. Errors: no server, the server closed
  // the connection (e.g. that socket's peer id is taken), protocol violations.
  static Result<Client> connect(const std::string& path, std::uint32_t vectors,
                                       std::chrono::milliseconds timeout);

  std::uint16_t id() const { return id_; }
  int shm_fd() const { return shm_.get(); }
  int socket() const { return socket_.get(); }
  // Other peers we can ring, ascending.
  std::vector<std::uint16_t> peers() const;

  // Applies connect/disconnect notifications arriving within `timeout`
  // (stops at the first quiet moment after one). Returns how many.
  // Errors: the server went away.
  Result<int> update(std::chrono::milliseconds timeout);
  // Applies the notifications already received, without waiting. Errors:
  // the server went away.
  Result<int> apply_pending();
  // Own vectors' eventfds (index = vector), for a caller's poll loop.
  std::vector<int> own_eventfds() const;
  Status ring(std::uint16_t peer, std::uint32_t vector) const;
  // Mask of own vectors rung (drained), 0 after `timeout`.
  Result<std::uint64_t> wait(std::chrono::milliseconds timeout);

 private:
  Client() = default;
  Status apply(std::int64_t value, UniqueFd fd);
  // Applies messages, waiting `first_wait` for the first and `next_wait` for each further one.
  Result<int> apply_messages(std::chrono::milliseconds first_wait, std::chrono::milliseconds next_wait);

  UniqueFd socket_;
  UniqueFd shm_;
  std::uint16_t id_ = 0;
  std::uint32_t vectors_ = 0;
  std::map<std::uint16_t, std::vector<UniqueFd>> eventfds_;  // own id included
};

}  // namespace gmm::ivshmem
