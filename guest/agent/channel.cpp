#include "channel.hpp"

#include <errno.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "io/unix_socket.hpp"
#include "protocol.hpp"

namespace gmm::agent {

Channel::Channel(std::string path) : path_(std::move(path)) {}

std::string Channel::open() {
  UniqueFd fd(::open(path_.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return path_ + ": " + std::strerror(errno);
  termios tty;
  is_tty_ = ::tcgetattr(fd.get(), &tty) == 0;
  if (is_tty_) {
    // no echo, no line editing, no \n -> \r\n; TCSAFLUSH drops input that
    // arrived before the agent (pings sent while the guest was booting)
    ::cfmakeraw(&tty);
    tty.c_cc[VMIN] = 1;
    tty.c_cc[VTIME] = 0;
    if (::tcsetattr(fd.get(), TCSAFLUSH, &tty) != 0) return path_ + ": raw mode: " + std::strerror(errno);
  }
  fd_ = std::move(fd);
  reader_.emplace(fd_.get());
  quiet_until_.reset();
  return "";
}

std::optional<pollfd> Channel::prepare(Clock::time_point now) {
  if (quiet_until_ && now < *quiet_until_) return std::nullopt;
  quiet_until_.reset();
  if (!fd_) {
    std::string error = open();
    if (!error.empty()) {
      if (!open_failed_) std::fprintf(stderr, "gmm-agent: %s; retrying\n", error.c_str());
      open_failed_ = true;
      quiet_until_ = now + kRetry;
      return std::nullopt;
    }
    if (open_failed_) std::fprintf(stderr, "gmm-agent: %s open again\n", path_.c_str());
    open_failed_ = false;
  }
  short events = POLLIN;
  if (sent_ < output_.size()) events |= POLLOUT;
  return pollfd{fd_.get(), events, 0};
}

std::vector<Channel::Line> Channel::on_ready(short revents) {
  std::vector<Line> lines;
  if (revents & (POLLIN | POLLHUP | POLLERR)) read_input(lines);
  if (fd_ && (revents & POLLOUT)) write_output();
  return lines;
}

void Channel::read_input(std::vector<Line>& lines) {
  const Deadline no_wait(std::chrono::milliseconds(0));  // the agent's poll loop does the waiting
  for (;;) {
    auto read = reader_->next_line(no_wait, kMaxRequestLine);
    switch (read.got) {
      case LineReader::Got::kLine:
        if (!read.text.empty()) lines.push_back({std::move(read.text), false});
        continue;
      case LineReader::Got::kTooLong: lines.push_back({"", true}); continue;
      case LineReader::Got::kTimedOut: return;
      case LineReader::Got::kClosed:
        // a virtio-serial port without a host: poll again later; a tty that
        // was hung up: open it again
        if (is_tty_) return close_and_retry("hung up");
        quiet_until_ = Clock::now() + kRetry;
        return;
      case LineReader::Got::kFailed: return close_and_retry(read.text);
    }
  }
}

bool Channel::send(const std::string& line) {
  if (output_.size() - sent_ + line.size() + 2 > kMaxQueued) return false;
  // The leading newline ends whatever partial line QEMU may have cut off
  // (a virtconsole drops output when the host reads too slowly); the host
  // skips empty lines.
  output_ += '\n';
  output_ += line;
  output_ += '\n';
  if (fd_ && !quiet_until_) write_output();
  return true;
}

void Channel::write_output() {
  const ssize_t put = write_available(fd_.get(), std::string_view(output_).substr(sent_));
  if (put < 0) return close_and_retry(std::string("write: ") + std::strerror(errno));
  sent_ += static_cast<std::size_t>(put);
  // a tty takes a few KiB per write: compact rarely, not per write
  if (sent_ == output_.size()) {
    output_.clear();
    sent_ = 0;
  } else if (sent_ > (std::size_t{1} << 20)) {
    output_.erase(0, sent_);
    sent_ = 0;
  }
}

void Channel::close_and_retry(const std::string& why) {
  std::fprintf(stderr, "gmm-agent: %s: %s; reopening\n", path_.c_str(), why.c_str());
  reader_.reset();
  fd_.reset();
  quiet_until_ = Clock::now() + kRetry;
}

}  // namespace gmm::agent
