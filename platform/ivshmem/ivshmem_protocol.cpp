#include "ivshmem/ivshmem_protocol.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "io/deadline.hpp"
#include "io/unix_socket.hpp"

namespace gmm::ivshmem {

namespace {

void encode(std::int64_t value, unsigned char (&out)[8]) {
  auto bits = static_cast<std::uint64_t>(value);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<unsigned char>(bits >> (8 * i));
}

std::int64_t decode(const unsigned char (&in)[8]) {
  std::uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= static_cast<std::uint64_t>(in[i]) << (8 * i);
  return static_cast<std::int64_t>(bits);
}

}  // namespace

Status send_message(int socket, std::int64_t value, int fd) {
  unsigned char data[8];
  encode(value, data);
  const std::span<const char> bytes(reinterpret_cast<const char*>(data), sizeof data);
  const std::span<const int> fds = fd >= 0 ? std::span<const int>(&fd, 1) : std::span<const int>();
  for (;;) {
    const ssize_t n = send_with_descriptors(socket, bytes, fds, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(sizeof(data))) return ok_status();
    if (n < 0 && errno == EINTR) continue;
    // 8 bytes always fit a unix socket's buffer at once unless it is full:
    // a client that reads nothing for that long is broken.
    return make_error(Errc::kIo, n < 0 ? errno_text("ivshmem send") : "ivshmem send: short write");
  }
}

Result<std::optional<Message>> receive_message(int socket, std::chrono::milliseconds timeout) {
  Deadline deadline(timeout);
  unsigned char data[8];
  std::size_t got = 0;
  Message message;
  while (got < sizeof(data)) {
    auto readable = wait_readable(socket, deadline.remaining());
    if (!readable) return readable.error();
    if (!*readable) return make_error(Errc::kIo, "ivshmem receive: timed out after " + std::to_string(timeout.count()) + " ms");
    std::vector<UniqueFd> fds;
    const ssize_t n = receive_with_descriptors(socket, {reinterpret_cast<char*>(data) + got, sizeof(data) - got}, fds, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return make_error(Errc::kIo, errno_text("ivshmem receive"));
    }
    for (UniqueFd& fd : fds)
      if (!message.fd) message.fd = std::move(fd);  // the protocol attaches at most one; the rest close
    if (n == 0) {
      if (got == 0) return std::optional<Message>{};
      return make_error(Errc::kIo, "ivshmem receive: connection closed inside a message");
    }
    got += static_cast<std::size_t>(n);
  }
  message.value = decode(data);
  return std::optional<Message>(std::move(message));
}

Status ring_eventfd(int eventfd) {
  std::uint64_t one = 1;
  for (;;) {
    if (::write(eventfd, &one, sizeof(one)) == sizeof(one)) return ok_status();
    if (errno == EINTR) continue;
    return make_error(Errc::kIo, errno_text("eventfd write"));
  }
}

std::uint64_t drain_eventfd(int eventfd) {
  std::uint64_t count = 0;
  if (::read(eventfd, &count, sizeof(count)) != sizeof(count)) return 0;  // EAGAIN: nothing pending
  return count;
}

Result<UniqueFd> make_eventfd() {
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd) return make_error(Errc::kIo, errno_text("eventfd"));
  return fd;
}

Result<std::uint64_t> wait_eventfds(std::span<const int> eventfds, std::chrono::milliseconds timeout,
                                    std::string_view who) {
  std::vector<pollfd> fds;
  for (int fd : eventfds) fds.push_back({fd, POLLIN, 0});
  Deadline deadline(timeout);
  for (;;) {
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(deadline.remaining().count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(Errc::kIo, errno_text(std::string(who) + ": poll"));
    std::uint64_t mask = 0;
    for (std::size_t v = 0; v < fds.size(); ++v)
      if (drain_eventfd(fds[v].fd) != 0) mask |= std::uint64_t{1} << v;
    if (mask != 0 || n == 0) return mask;
  }
}

}  // namespace gmm::ivshmem
