// gmm::Doorbell for host processes (gmmd in process mode): a client of the
// ivshmem server (gmm-ivshmem-server), the same side of QEMU's ivshmem
// protocol as a VM's ivshmem-doorbell device. ring(peer, vector) writes the
// peer's eventfd for that vector, as a guest's write to the Doorbell register
// makes QEMU do; wait() polls this peer's own eventfds. So process mode and
// VM mode share one messaging path: guests and host processes could even
// ring each other through one server.
//
// Peer ids come from the socket (DIR/nodeK.ivshmem gives id K); connect()
// checks that the server gave the id the caller expects.
//
// Threads: ring() from any thread; wait() from one thread at a time (it also
// applies the server's notices of peers that came or went, which ring()
// needs to reach a peer that connected later).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "gmm/platform.hpp"
#include "gmm/result.hpp"
#include "ivshmem/ivshmem_client.hpp"

namespace gmm::ivshmem {

// Vectors per peer of every ivshmem server and device gmm-host starts
// (vector 0 carries GMM's messages, gmm::kDoorbellVector; 1 is spare). A
// client must ask for exactly the server's count: the welcome does not say it.
inline constexpr std::uint32_t kGmmVectors = 2;

class ClientDoorbell final : public Doorbell {
 public:
  using Log = std::function<void(std::string_view)>;

  // Connects to the server's socket `path` as a device with `vectors`
  // vectors. Errors: no server there, the id is taken (the server closes the
  // connection), a protocol violation, or a peer id other than `expected_id`.
  static Result<std::unique_ptr<ClientDoorbell>> connect(const std::string& path, std::uint16_t expected_id,
                                                         std::uint32_t vectors = kGmmVectors,
                                                         std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                                         Log log = {});

  // Never blocks. A peer the server has not announced (not connected yet, or
  // gone without --retain-peers) is not rung: it polls every period anyway.
  void ring(std::uint32_t peer, std::uint32_t vector) override;
  // True when one of this peer's vectors was rung (all are drained).
  bool wait(std::chrono::microseconds timeout) override;

  std::uint16_t id() const { return id_; }
  std::vector<std::uint16_t> peers() const;
  std::string describe() const;  // "ivshmem server PATH, peer id K, N vectors"

 private:
  ClientDoorbell(std::string path, Client client, Log log);
  void apply_notices();  // mutex_ held

  const std::string path_;
  const std::uint16_t id_;
  const std::vector<int> own_;  // own vectors' eventfds, owned by client_
  const int socket_;            // the server connection, owned by client_
  Log log_;
  mutable std::mutex mutex_;    // client_'s peer table: wait() applies notices, ring() reads it
  Client client_;               // guarded by mutex_
  bool server_gone_ = false;    // guarded by mutex_: keep ringing the peers we know
};

}  // namespace gmm::ivshmem
