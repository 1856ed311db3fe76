#include "ivshmem/ivshmem_protocol.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

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
  iovec iov{data, sizeof(data)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
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
    iovec iov{data + got, sizeof(data) - got};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return make_error(Errc::kIo, errno_text("ivshmem receive"));
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (!message.fd) message.fd.reset(fd);
        else ::close(fd);  // the protocol attaches at most one
      }
    }
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

}  // namespace gmm::ivshmem
