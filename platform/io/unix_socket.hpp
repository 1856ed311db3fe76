// Unix stream sockets: the ivshmem server's listeners and its clients (gmmd's
// doorbell in process mode), QMP, and the guests' virtio-serial control
// channels are all unix sockets. Errors are gmm::Errc::kIo with the path and
// strerror. Lines from them: io/line_reader.hpp.
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <chrono>
#include <span>
#include <vector>
#include <string>
#include <string_view>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm {

// sun_path holds 107 bytes plus the NUL: longer paths are refused here, with
// the path in the message, instead of being truncated by the kernel.
Status check_socket_path(const std::string& path);
// The address of the unix socket at `path`, for bind() or connect().
// Errors: check_socket_path's.
Result<sockaddr_un> unix_address(const std::string& path);

// Binds and listens (close-on-exec, non-blocking accept). A stale socket file
// at `path` is removed first; any other kind of file there is an error.
Result<UniqueFd> listen_unix(const std::string& path, int backlog = 16);
// One attempt. Errors keep errno's text ("No such file", "Connection refused").
Result<UniqueFd> connect_unix(const std::string& path);
// Retries every 20 ms while the socket is missing or refuses (QEMU creates
// its sockets a moment after it starts), until `timeout`.
Result<UniqueFd> connect_unix_retry(const std::string& path, std::chrono::milliseconds timeout);

// Descriptors travel with bytes as SCM_RIGHTS ancillary data (gmmd's
// section windows, the ivshmem server's shared memory and eventfds).
// One sendmsg of `bytes` with `fds` attached (none when empty): sendmsg's
// result, the bytes sent or -1 with errno set.
ssize_t send_with_descriptors(int socket, std::span<const char> bytes, std::span<const int> fds, int flags);
// One recvmsg into `into` (close-on-exec); up to kMaxDescriptorsPerReceive
// descriptors that came with those bytes are appended to `fds`. recvmsg's
// result, the bytes received, 0 at EOF or -1 with errno set.
inline constexpr std::size_t kMaxDescriptorsPerReceive = 16;
ssize_t receive_with_descriptors(int socket, std::span<char> into, std::vector<UniqueFd>& fds, int flags);

// true when `fd` is readable (data, EOF or error pending), false on timeout.
Result<bool> wait_readable(int fd, std::chrono::milliseconds timeout);
Status write_all(int fd, std::string_view data);
// Writes as much of `data` as a non-blocking `fd` takes now: the bytes
// written (fewer than asked when it would block), or -1 with errno set on
// an error (EINTR is retried).
ssize_t write_available(int fd, std::string_view data);

// "what: strerror(errno)" for the current errno.
std::string errno_text(std::string_view what);

}  // namespace gmm
