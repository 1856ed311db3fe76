#include "guest_shell.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>

#include "io/deadline.hpp"
#include "io/unix_socket.hpp"

namespace gmm::host::vm {

using std::chrono::milliseconds;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The status after "<marker> " when the rest of the line is exactly a number.
std::optional<int> end_status(const std::string& line, const std::string& marker) {
  auto at = line.find(marker + " ");
  if (at == std::string::npos) return std::nullopt;
  const char* first = line.data() + at + marker.size() + 1;
  const char* last = line.data() + line.size();
  int status = 0;
  auto [ptr, ec] = std::from_chars(first, last, status);
  if (ec != std::errc() || ptr != last || first == last) return std::nullopt;
  return status;
}

}  // namespace

Result<GuestShell> GuestShell::connect(const std::string& ctl_path, milliseconds timeout) {
  auto socket = connect_unix_retry(ctl_path, timeout);
  if (!socket) return make_error(Errc::kIo, "guest control channel: " + socket.error().message);
  GuestShell shell;
  shell.socket_ = std::move(*socket);
  shell.nonce_ = std::to_string(::getpid()) + "_" + std::to_string(shell.socket_.get()) + "_" +
                 std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007);
  return shell;
}

Result<std::optional<std::string>> GuestShell::read_line(milliseconds timeout) {
  Deadline deadline(timeout);
  for (;;) {
    auto eol = buffer_.find('\n');
    if (eol != std::string::npos) {
      std::string line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 1);
      while (!line.empty() && line.back() == '\r') line.pop_back();
      return std::optional<std::string>(std::move(line));
    }
    auto readable = wait_readable(socket_.get(), deadline.remaining());
    if (!readable) return readable.error();
    if (!*readable) return std::optional<std::string>();
    char chunk[4096];
    ssize_t n = ::recv(socket_.get(), chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(Errc::kIo, errno_text("guest control channel: recv"));
    if (n == 0) return make_error(Errc::kIo, "guest control channel closed (QEMU exited?)");
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

Status GuestShell::wait_ready(milliseconds timeout) {
  Deadline deadline(timeout);
  const std::string marker = "__gmm_ready_" + nonce_;
  while (!deadline.passed()) {
    // Until the guest's shell opens /dev/hvc0 what we send may be lost: say
    // it again every 300 ms (the extra lines are harmless echoes).
    auto sent = write_all(socket_.get(), "echo " + marker + "\n");
    if (!sent) return sent;
    Deadline round(std::min(milliseconds(300), deadline.remaining()));
    for (;;) {
      auto line = read_line(round.remaining());
      if (!line) return line.error();
      if (!*line) break;  // quiet for a round: say it again
      if (ends_with(**line, marker)) {
        // Not through run(): its subshell and </dev/null would hide the tty and the prompt.
        auto quiet = write_all(socket_.get(), "stty -echo 2>/dev/null; PS1=''; PS2=''\n");
        if (!quiet) return quiet;
        auto synced = run("true", deadline.remaining());
        return synced ? ok_status() : Status(synced.error());
      }
    }
  }
  return make_error(Errc::kIo, "guest shell did not answer within " + std::to_string(timeout.count()) + " ms");
}

Result<GuestShell::Output> GuestShell::run(const std::string& command, milliseconds timeout) {
  const std::string n = nonce_ + "_" + std::to_string(next_++);
  const std::string begin = "__gmm_b_" + n, end = "__gmm_e_" + n;
  auto sent = write_all(socket_.get(), "echo " + begin + "; ( " + command + " ) </dev/null 2>&1; echo " + end + " $?\n");
  if (!sent) return sent.error();
  Deadline deadline(timeout);
  bool started = false;
  Output output;
  for (;;) {
    auto next = read_line(deadline.remaining());
    if (!next) return make_error(Errc::kIo, next.error().message + " running: " + command);
    if (!*next)
      return make_error(Errc::kIo, "guest control channel: timed out after " + std::to_string(timeout.count()) +
                                       " ms running: " + command);
    const std::string& line = **next;
    if (!started) {
      started = ends_with(line, begin);
      continue;
    }
    if (auto status = end_status(line, end)) {
      // Output without a final newline shares the marker's line.
      std::string tail = line.substr(0, line.find(end + " "));
      if (!tail.empty()) output.text += tail + "\n";
      output.status = *status;
      if (!output.text.empty() && output.text.back() == '\n') output.text.pop_back();
      return output;
    }
    output.text += line + "\n";
  }
}

}  // namespace gmm::host::vm
