#include "io/line_reader.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/unix_socket.hpp"

namespace gmm {

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kMaxDescriptorsPerRead = 4;

}  // namespace

LineReader::Read LineReader::next_line(const Deadline& deadline, std::size_t max_line) {
  for (;;) {
    if (auto read = take_buffered(max_line)) return std::move(*read);
    auto readable = wait_readable(fd_, deadline.remaining());
    if (!readable) return {Got::kFailed, readable.error().message};
    if (!*readable) return {Got::kTimedOut, {}};
    char chunk[kChunk];
    const ssize_t got = receive(chunk, sizeof chunk);
    if (got < 0 && (errno == ECONNRESET || (errno == EIO && !is_socket_))) return {Got::kClosed, {}};
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
      if (deadline.passed()) return {Got::kTimedOut, {}};  // readable, yet nothing to read
      continue;
    }
    if (got < 0) return {Got::kFailed, errno_text(is_socket_ ? "recv" : "read")};
    if (got == 0) return {Got::kClosed, {}};
    buffer_.append(chunk, static_cast<std::size_t>(got));
  }
}

std::optional<LineReader::Read> LineReader::take_buffered(std::size_t max_line) {
  for (;;) {
    const std::size_t eol = buffer_.find('\n', searched_);
    searched_ = eol == std::string::npos ? buffer_.size() : 0;
    if (discarding_) {
      if (eol == std::string::npos) {
        buffer_.clear();
        searched_ = 0;
        return std::nullopt;
      }
      buffer_.erase(0, eol + 1);
      discarding_ = false;
      continue;
    }
    const std::size_t length = eol == std::string::npos ? buffer_.size() : eol;
    if (length > max_line) {
      buffer_.erase(0, eol == std::string::npos ? buffer_.size() : eol + 1);
      searched_ = 0;
      discarding_ = eol == std::string::npos;
      return Read{Got::kTooLong, {}};
    }
    if (eol == std::string::npos) return std::nullopt;
    std::string line = buffer_.substr(0, eol);
    buffer_.erase(0, eol + 1);
    while (!line.empty() && line.back() == '\r') line.pop_back();
    return Read{Got::kLine, std::move(line)};
  }
}

ssize_t LineReader::receive(char* into, std::size_t size) {
  if (is_socket_) {
    std::vector<UniqueFd> received;
    const ssize_t got = receive_with_descriptors(fd_, {into, size}, received, MSG_DONTWAIT);
    for (UniqueFd& fd : received) descriptors_.push_back(std::move(fd));
    if (got >= 0 || errno != ENOTSOCK) return got;
    is_socket_ = false;
  }
  return ::read(fd_, into, size);
}

}  // namespace gmm
