// Reading '\n'-terminated lines from a descriptor until a deadline: the one
// line reader of every line protocol at the platform's edge (QMP, the guest
// shell and console channels, gmmd's replies and events, the guest agent's
// requests and, on the host, its replies). Sockets and character devices (a virtio console) alike; on a
// socket, descriptors sent along with the bytes (SCM_RIGHTS) are kept for
// the caller.
//
// A line ends at '\n'; '\r's right before it belong to the ending (ttys and
// QMP send "\r\n"). Empty lines are returned like any other.
//
// Does not own the descriptor. One thread at a time.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <limits>
#include <optional>
#include <string>

#include "gmm/unique_fd.hpp"
#include "io/deadline.hpp"

namespace gmm {

class LineReader {
 public:
  static constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();

  // What next_line() came back with.
  enum class Got {
    kLine,      // `text` is the line
    kTimedOut,  // the deadline passed first (a passed deadline: no line was there without waiting)
    kClosed,    // the other end closed or reset the connection, or hung up a tty (a pty's
                // master reads EIO); a later call reads again (a virtio-serial port whose
                // host comes back)
    kTooLong,   // a line over `max_line` bytes: dropped up to its '\n', also the part still to
                // come; the next call goes on after it
    kFailed,    // `text` says what failed: "recv: <strerror>", "read: ...", "poll: ..."
  };
  struct Read {
    Got got = Got::kTimedOut;
    std::string text;
  };

  explicit LineReader(int fd) : fd_(fd) {}

  // The next line, reading and waiting for it until `deadline`.
  Read next_line(const Deadline& deadline, std::size_t max_line = kNoLimit);
  // Descriptors received so far, oldest first (sockets only).
  std::deque<UniqueFd>& descriptors() { return descriptors_; }

 private:
  std::optional<Read> take_buffered(std::size_t max_line);
  // recvmsg() on a socket, read() on anything else: bytes, 0 at end of file, -1 with errno.
  ssize_t receive(char* into, std::size_t size);

  int fd_;
  std::string buffer_;         // bytes read, not yet returned as lines
  std::size_t searched_ = 0;   // buffer_[0, searched_) holds no '\n'
  bool discarding_ = false;    // inside a line over the limit: drop bytes up to its '\n'
  bool is_socket_ = true;      // until recvmsg() says ENOTSOCK
  std::deque<UniqueFd> descriptors_;
};

}  // namespace gmm
