// The wire format of QEMU's ivshmem client-server protocol
// (docs/specs/ivshmem-spec.rst, "The ivshmem Client-Server Protocol"):
// one-way, server -> client; every message is one 8-byte little-endian signed
// number, optionally with one file descriptor attached by SCM_RIGHTS.
//
// On connect the server sends, in order:
//   1. 0                       protocol version
//   2. ID                      the client's peer id (0..65535), no fd
//   3. -1  + shm fd            the shared memory
//   4. P   + eventfd, N times  for each other connected peer P: its vectors 0..N-1
//   5. ID  + eventfd, N times  the client's own vectors 0..N-1
// then, at any time:
//   6. P   + eventfd (N times) peer P connected;   P without fd: P disconnected.
// Ringing peer P's vector V = writing the 8-byte integer 1 to that eventfd.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm::ivshmem {

inline constexpr std::int64_t kProtocolVersion = 0;
inline constexpr std::int64_t kShmMessage = -1;
inline constexpr std::uint32_t kMaxPeerId = 65535;  // the Doorbell register has 16 bits for it
inline constexpr std::uint32_t kMaxVectors = 64;    // our limit (a bitmask); QEMU allows more

struct Message {
  std::int64_t value = 0;
  UniqueFd fd;  // invalid when the message carries none
};

// One message, one sendmsg (QEMU reads the fd with the message's first byte).
Status send_message(int socket, std::int64_t value, int fd = -1);
// nullopt: the peer closed the connection cleanly between messages.
// Errors: timeout, a connection cut inside a message, a socket error.
Result<std::optional<Message>> receive_message(int socket, std::chrono::milliseconds timeout);

// Eventfd helpers: ring adds 1; drain reads the count (0 if none pending).
Status ring_eventfd(int eventfd);
std::uint64_t drain_eventfd(int eventfd);
// Waits until one of `eventfds` (vector v = index v) is signalled or
// `timeout` passes, drains them: the mask of the vectors rung (0 on
// timeout). Errors: kIo naming `who`.
Result<std::uint64_t> wait_eventfds(std::span<const int> eventfds, std::chrono::milliseconds timeout,
                                    std::string_view who);
Result<UniqueFd> make_eventfd();  // non-blocking, close-on-exec, like QEMU's event_notifier

}  // namespace gmm::ivshmem
