#include "proto/client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "io/unix_socket.hpp"

namespace gmm::proto {

using Clock = std::chrono::steady_clock;

Result<Client> Client::connect(const std::string& socket_path) {
  auto fd = connect_unix(socket_path);
  if (!fd && fd.error().code == Errc::kIo) return make_error(Errc::kIo, "cannot " + fd.error().message);
  if (!fd) return fd.error();
  return Client(std::move(*fd), socket_path);
}

Status Client::send_all(std::string_view bytes, const Deadline& deadline) {
  while (!bytes.empty()) {
    pollfd pfd{fd_.get(), POLLOUT, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(deadline.remaining().count()));
    if (ready < 0 && errno == EINTR) continue;
    timed_out_ = ready == 0;
    if (ready <= 0) return make_error(Errc::kIo, "timed out sending to gmmd on " + path_);
    ssize_t sent = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == EPIPE || errno == ECONNRESET) {
        lost_ = true;
        return make_error(Errc::kIo, "connection to gmmd lost (gmmd on " + path_ + " closed it or died)");
      }
      return make_error(Errc::kIo, "send to " + path_ + ": " + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return ok_status();
}

Result<std::string> Client::next_line(Clock::time_point deadline, std::size_t max_line) {
  auto read = reader_.next_line(Deadline(deadline), max_line);
  timed_out_ = read.got == LineReader::Got::kTimedOut;
  switch (read.got) {
    case LineReader::Got::kLine: return std::move(read.text);
    case LineReader::Got::kTimedOut: return make_error(Errc::kIo, "no reply from gmmd on " + path_ + " in time");
    case LineReader::Got::kClosed:
      lost_ = true;
      return make_error(Errc::kIo, "connection to gmmd lost (gmmd on " + path_ + " closed it or died)");
    case LineReader::Got::kTooLong: return make_error(Errc::kIo, "line from gmmd on " + path_ + " too long");
    case LineReader::Got::kFailed: break;
  }
  return make_error(Errc::kIo, "receive from " + path_ + ": " + read.text);
}

Result<nlohmann::json> Client::call(const Request& request, std::chrono::milliseconds timeout,
                                    UniqueFd* descriptor) {
  auto deadline = Clock::now() + timeout;
  timed_out_ = false;
  Status sent = send_all(encode_request(request) + "\n", Deadline(deadline));
  if (!sent) return sent.error();
  auto line = next_line(deadline, kMaxReplyLine);
  if (!line) return line.error();
  // A descriptor arrives with the first byte of its reply, so it is here now.
  auto& descriptors = reader_.descriptors();
  if (descriptor != nullptr && !descriptors.empty()) *descriptor = std::move(descriptors.front());
  descriptors.clear();
  return decode_reply(*line);
}

}  // namespace gmm::proto
