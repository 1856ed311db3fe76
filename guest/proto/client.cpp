#include "proto/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace gmm::proto {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un address;
  std::memset(&address, 0, sizeof address);
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) {
    return make_error(Errc::kInvalidArgument, "socket path \"" + path + "\" is empty or longer than " +
                                                  std::to_string(sizeof address.sun_path - 1) + " bytes");
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

Result<Client> Client::connect(const std::string& socket_path) {
  auto address = unix_address(socket_path);
  if (!address) return address.error();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(Errc::kIo, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)) != 0) {
    int err = errno;
    ::close(fd);
    return make_error(Errc::kIo, "cannot connect to " + socket_path + ": " + std::strerror(err));
  }
  return Client(fd, socket_path);
}

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)),
      descriptors_(std::move(other.descriptors_)),
      timed_out_(other.timed_out_) {}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
    descriptors_ = std::move(other.descriptors_);
    timed_out_ = other.timed_out_;
  }
  return *this;
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

Status Client::send_all(std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    pollfd pfd{fd_, POLLOUT, 0};
    int ready = ::poll(&pfd, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    timed_out_ = ready == 0;
    if (ready <= 0) return make_error(Errc::kIo, "timed out sending to gmmd on " + path_);
    ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == EPIPE || errno == ECONNRESET) {
        return make_error(Errc::kIo, "connection to gmmd lost (gmmd on " + path_ + " closed it or died)");
      }
      return make_error(Errc::kIo, "send to " + path_ + ": " + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return ok_status();
}

Result<std::string> Client::next_line(Clock::time_point deadline, std::size_t max_line) {
  timed_out_ = false;
  for (;;) {
    auto newline = buffer_.find('\n');
    if (newline != std::string::npos && newline <= max_line) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    if (buffer_.size() > max_line) return make_error(Errc::kIo, "line from gmmd on " + path_ + " too long");
    pollfd pfd{fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      timed_out_ = true;
      return make_error(Errc::kIo, "no reply from gmmd on " + path_ + " in time");
    }
    if (ready < 0) return make_error(Errc::kIo, std::string("poll: ") + std::strerror(errno));
    char chunk[65536];
    iovec into{chunk, sizeof chunk};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr message{};
    message.msg_iov = &into;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t got = ::recvmsg(fd_, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    for (cmsghdr* header = got > 0 ? CMSG_FIRSTHDR(&message) : nullptr; header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
      std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int received;
        std::memcpy(&received, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
        descriptors_.emplace_back(received);
      }
    }
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got == 0 || (got < 0 && errno == ECONNRESET)) {
      return make_error(Errc::kIo, "connection to gmmd lost (gmmd on " + path_ + " closed it or died)");
    }
    if (got < 0) return make_error(Errc::kIo, "receive from " + path_ + ": " + std::strerror(errno));
    buffer_.append(chunk, static_cast<std::size_t>(got));
  }
}

Result<nlohmann::json> Client::call(const Request& request, std::chrono::milliseconds timeout,
                                    UniqueFd* descriptor) {
  auto deadline = Clock::now() + timeout;
  timed_out_ = false;
  Status sent = send_all(encode_request(request) + "\n", deadline);
  if (!sent) return sent.error();
  auto line = next_line(deadline, kMaxReplyLine);
  if (!line) return line.error();
  // A descriptor arrives with the first byte of its reply, so it is here now.
  if (descriptor != nullptr && !descriptors_.empty()) *descriptor = std::move(descriptors_.front());
  descriptors_.clear();
  return decode_reply(*line);
}

}  // namespace gmm::proto
