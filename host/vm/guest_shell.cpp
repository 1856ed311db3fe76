#include "guest_shell.hpp"

#include <unistd.h>

#include <algorithm>
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
  GuestShell shell(std::move(*socket));
  shell.nonce_ = std::to_string(::getpid()) + "_" + std::to_string(shell.socket_.get()) + "_" +
                 std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007);
  return shell;
}

Result<std::optional<std::string>> GuestShell::read_line(milliseconds timeout) {
  auto read = reader_.next_line(Deadline(timeout));
  switch (read.got) {
    case LineReader::Got::kLine: return std::optional<std::string>(std::move(read.text));
    case LineReader::Got::kTimedOut: return std::optional<std::string>();
    case LineReader::Got::kClosed: return make_error(Errc::kIo, "guest control channel closed (QEMU exited?)");
    case LineReader::Got::kTooLong:  // no limit here
    case LineReader::Got::kFailed: break;
  }
  return make_error(Errc::kIo, "guest control channel: " + read.text);
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
