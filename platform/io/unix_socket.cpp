#include "io/unix_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "io/deadline.hpp"

namespace gmm {

using std::chrono::milliseconds;

std::string errno_text(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

Status check_socket_path(const std::string& path) {
  if (path.empty()) return make_error(Errc::kInvalidArgument, "empty unix socket path");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path))
    return make_error(Errc::kInvalidArgument, "unix socket path longer than " +
                                                  std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                                                  " bytes: " + path + " (use a shorter directory)");
  return ok_status();
}

Result<sockaddr_un> unix_address(const std::string& path) {
  auto ok = check_socket_path(path);
  if (!ok) return ok.error();
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

Result<UniqueFd> listen_unix(const std::string& path, int backlog) {
  auto address = unix_address(path);
  if (!address) return address.error();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error(Errc::kExists, "cannot listen on " + path + ": a file that is not a socket is there");
    ::unlink(path.c_str());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return make_error(Errc::kIo, errno_text("socket"));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address.value()), sizeof(sockaddr_un)) != 0)
    return make_error(Errc::kIo, errno_text("bind " + path));
  if (::listen(fd.get(), backlog) != 0) return make_error(Errc::kIo, errno_text("listen " + path));
  return fd;
}

// 0 and the connected socket in `out`, or errno.
static int try_connect(const sockaddr_un& address, UniqueFd& out) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errno;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(sockaddr_un)) != 0) return errno;
  out = std::move(fd);
  return 0;
}

Result<UniqueFd> connect_unix(const std::string& path) {
  auto address = unix_address(path);
  if (!address) return address.error();
  UniqueFd fd;
  if (int err = try_connect(*address, fd); err != 0)
    return make_error(Errc::kIo, "connect " + path + ": " + std::strerror(err));
  return fd;
}

Result<UniqueFd> connect_unix_retry(const std::string& path, milliseconds timeout) {
  auto address = unix_address(path);
  if (!address) return address.error();
  Deadline deadline(timeout);
  for (;;) {
    UniqueFd fd;
    int err = try_connect(*address, fd);
    if (err == 0) return fd;
    bool transient = err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
    if (!transient || deadline.passed())
      return make_error(Errc::kIo, "connect " + path + ": " + std::strerror(err) +
                                       (transient ? " (gave up after " + std::to_string(timeout.count()) + " ms)" : ""));
    std::this_thread::sleep_for(milliseconds(20));
  }
}

Result<bool> wait_readable(int fd, milliseconds timeout) {
  Deadline deadline(timeout);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(deadline.remaining().count()));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return make_error(Errc::kIo, errno_text("poll"));
  }
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(Errc::kIo, errno_text("write"));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_status();
}

ssize_t write_available(int fd, std::string_view data) {
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t put = ::write(fd, data.data() + written, data.size() - written);
    if (put > 0) {
      written += static_cast<std::size_t>(put);
    } else if (put < 0 && errno == EINTR) {
      continue;
    } else if (put < 0 && errno == EAGAIN) {
      break;
    } else {
      return -1;
    }
  }
  return static_cast<ssize_t>(written);
}

ssize_t send_with_descriptors(int socket, std::span<const char> bytes, std::span<const int> fds, int flags) {
  iovec data{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  std::vector<char> control(fds.empty() ? 0 : CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  return ::sendmsg(socket, &message, flags);
}

ssize_t receive_with_descriptors(int socket, std::span<char> into, std::vector<UniqueFd>& fds, int flags) {
  iovec data{into.data(), into.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxDescriptorsPerReceive)];
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  const ssize_t got = ::recvmsg(socket, &message, flags | MSG_CMSG_CLOEXEC);
  for (cmsghdr* header = got >= 0 ? CMSG_FIRSTHDR(&message) : nullptr; header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      fds.emplace_back(received);
    }
  }
  return got;
}

}  // namespace gmm
