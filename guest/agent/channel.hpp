// The agent's end of the control channel: a character device (the virtio
// console /dev/hvc0, or a virtio-serial port /dev/vportNpM), read as lines
// and written from a queue, never blocking the agent.
//
// The host may connect and disconnect at any time. On a virtconsole the guest
// does not notice (QEMU drops what the guest writes while nobody listens); on
// a virtio-serial port reads see EOF/POLLHUP and writes would block until the
// host is back, so the channel backs off and keeps its queue (bounded).
#pragma once

#include <poll.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "clock.hpp"
#include "gmm/unique_fd.hpp"
#include "io/line_reader.hpp"

namespace gmm::agent {

class Channel {
 public:
  static constexpr std::chrono::milliseconds kRetry{200};
  static constexpr std::size_t kMaxQueued = std::size_t{32} << 20;

  struct Line {
    std::string text;
    bool too_long = false;  // text is empty: the line was longer than kMaxRequestLine
  };

  explicit Channel(std::string path);

  // Opens the device (a tty is put in raw mode). Returns an error message,
  // or "" when open.
  std::string open();
  // The pollfd to watch now, if any: none while closed or backing off;
  // reopens the device once the back-off is over.
  std::optional<pollfd> prepare(Clock::time_point now);
  // Reads and writes what the device allows; returns complete input lines.
  std::vector<Line> on_ready(short revents);
  // Queues one reply line. False if dropped: the queue is full.
  bool send(const std::string& line);
  std::optional<Clock::time_point> next_wakeup() const { return quiet_until_; }

 private:
  void read_input(std::vector<Line>& lines);
  void write_output();
  void close_and_retry(const std::string& why);

  std::string path_;
  UniqueFd fd_;
  std::optional<LineReader> reader_;  // of fd_, while open
  bool is_tty_ = false;
  bool open_failed_ = false;  // logged once until the next success
  std::string output_;
  std::size_t sent_ = 0;  // bytes of output_ already written
  std::optional<Clock::time_point> quiet_until_;
};

}  // namespace gmm::agent
