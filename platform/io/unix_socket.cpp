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

}  // namespace gmm
