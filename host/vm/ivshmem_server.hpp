// The ivshmem doorbell server of the VM testbed: QEMU's `ivshmem-doorbell`
// devices (one per guest) connect to it, receive the pool's file descriptor
// and one eventfd per (peer, vector), and from then on ring each other
// directly through those eventfds; the server only tells everyone who came
// and who went. Protocol: ivshmem_protocol.hpp.
//
// Peer ids. The orchestrator wants peer id == GMM node id, whatever order the
// VMs boot in, so ids come from the socket a client connects to:
//   - a *fixed* listener (path, id): every connection there gets that id
//     (one socket per node, e.g. DIR/node1.ivshmem); a second connection
//     while that id is connected is refused (closed without a word, QEMU then
//     fails to start: two VMs for one node is a bug to see, not to hide);
//     after a disconnect the id is free again (a restarted VM gets it back);
//   - an *auto* listener (path, no id): the lowest id that is neither
//     connected nor reserved (by a fixed listener or the host peer), like
//     QEMU's contrib/ivshmem-server. For tools and tests.
//
// The host peer. With `host_peer` set, the server process is itself a peer:
// it owns that id's eventfds, every client is told about it like any other
// peer, so guests can ring the host (Doorbell = host_peer << 16 | vector) and
// the host rings guests with ring(). Use an id outside the node ids, e.g.
// gmm::layout::kMaxNodes (64); QEMU sizes its peer table by the largest id.
//
// Where it runs: run() is a poll loop for a thread; stop() ends it. As
// gmm-host exits after `up`, the VM mode runs it as its own long-lived
// process, `gmm-ivshmem-server` (ivshmem_server_main.cpp). If the server
// dies the running guests keep ringing each other (they hold the eventfds),
// but no VM can (re)connect and disconnects go unannounced.
//
// The pool file must be a power of two in size (QEMU maps it as PCI BAR2),
// unless no VM uses the server (Options::any_size, process mode).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm::host::vm {

class IvshmemServer {
 public:
  struct Listener {
    std::string path;
    std::optional<std::uint16_t> peer;  // fixed id, or nullopt: assign
  };
  struct Options {
    std::string shm_path;        // existing file, power-of-two size
    std::uint32_t vectors = 2;   // must equal the devices' vectors=N
    std::vector<Listener> listeners;
    std::optional<std::uint16_t> host_peer;
    // Retain a fixed-id peer's eventfds when it disconnects, tell nobody, and
    // hand the same eventfds to the next client on its socket (others are not
    // told either: they still hold them). Needed with QEMU 7.2 (hw/misc/ivshmem.c):
    // a disconnect message frees the peer's eventfd array, and the peer's
    // reconnect then writes into the freed array (heap corruption; seen as
    // "malloc_consolidate(): unaligned fastbin chunk detected" and QEMU dying
    // when a VM of `gmm-host up --mode vm` was restarted).
    bool retain_peers = false;
    // Serve a pool of any size. Process mode: no VM maps it (QEMU needs a
    // power of two, as it becomes a PCI BAR).
    bool any_size = false;
    std::function<void(std::string_view)> log;  // one line per connect/disconnect/refusal
  };

  // Opens the pool file and binds every listener: once this returns,
  // clients can connect (they are served when run() or serve_for() runs).
  static Result<std::unique_ptr<IvshmemServer>> create(Options options);
  ~IvshmemServer();  // closes everything and removes the socket files
  IvshmemServer(const IvshmemServer&) = delete;
  IvshmemServer& operator=(const IvshmemServer&) = delete;

  // Serves until stop(). Errors only for a broken poll or listener.
  Status run();
  // Serves what is pending, waiting at most `timeout` for the first event.
  Status serve_for(std::chrono::milliseconds timeout);
  // From any thread (or a signal handler): run() returns soon after.
  void stop();

  // Connected peer ids (the host peer included), ascending.
  std::vector<std::uint16_t> peers() const;
  std::uint64_t shm_size() const { return shm_size_; }
  std::uint32_t vectors() const { return options_.vectors; }

  // Rings (peer, vector) as a peer would: writes its eventfd. Thread-safe.
  // Errors: kNotFound for an unknown peer or vector.
  Status ring(std::uint16_t peer, std::uint32_t vector);
  // The host peer's eventfd for `vector` (-1 without a host peer), for the
  // caller's own poll loop. wait_host() waits for any of them and returns the
  // mask of vectors rung since the last call (0 on timeout), draining them.
  int host_eventfd(std::uint32_t vector) const;
  Result<std::uint64_t> wait_host(std::chrono::milliseconds timeout);

 private:
  struct Peer {
    UniqueFd socket;  // invalid for the host peer and a retained, disconnected peer
    std::vector<UniqueFd> eventfds;
  };
  struct BoundListener {
    Listener listener;
    UniqueFd fd;
  };
  explicit IvshmemServer(Options options) : options_(std::move(options)) {}

  Status poll_once(int timeout_ms);
  void accept_on(const BoundListener& listener);
  std::optional<std::uint16_t> pick_id(const Listener& listener) const;
  Status welcome(std::uint16_t id, Peer& peer);
  void drop(std::uint16_t id, std::string_view why);
  void say(const std::string& line) const;

  Options options_;
  UniqueFd shm_;
  std::uint64_t shm_size_ = 0;
  UniqueFd wake_;
  std::vector<BoundListener> listeners_;
  mutable std::mutex mutex_;  // peers_: the loop changes it, ring() reads it
  std::map<std::uint16_t, Peer> peers_;
};

}  // namespace gmm::host::vm
