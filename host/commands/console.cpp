// `gmm-host console NODE`: the terminal side of the shell on a node's
// console. The launcher attaches (VM mode: the guest's second console port,
// DIR/nodeK.shell, one attachment at a time; process mode has no console);
// the image's /init keeps a shell on it (respawned). Output the guest
// writes while no one is attached is dropped by QEMU, so attaching shows a
// fresh prompt.
//
// Interactive (stdin and stdout are terminals): the terminal goes raw, every
// key goes to the guest (Ctrl-C included) except Ctrl-], which detaches.
// --batch (stdin a pipe or file): the input runs as a script in a subshell
// of that shell with echo and prompts off; its output is printed without
// the terminal's '\r' and the exit status is the script's.
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include "commands/command_support.hpp"
#include "commands/commands.hpp"
#include "commands/launchers.hpp"
#include "io/deadline.hpp"
#include "io/line_reader.hpp"
#include "io/unix_socket.hpp"

namespace gmm::host {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr char kDetachKey = 0x1d;  // Ctrl-]
constexpr std::size_t kMaxScript = 1 << 20;

// The terminal in raw mode for as long as this lives.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool active() const { return active_; }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

Status write_fd(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(Errc::kIo, errno_text("write"));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok_status();
}

int interactive(int socket, std::uint32_t node) {
  RawTerminal terminal(STDIN_FILENO);
  if (!terminal.active()) return fail("console", errno_text("cannot put the terminal into raw mode"));
  std::cerr << "gmm-host: console of node " << node << "; Ctrl-] detaches\r\n" << std::flush;
  // A fresh prompt: what the shell printed before we attached was dropped.
  if (Status sent = write_all(socket, "\n"); !sent) return fail("console", sent.error().message);
  pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {socket, POLLIN, 0}};
  char buffer[4096];
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return fail("console", errno_text("poll"));
    }
    if (fds[1].revents != 0) {
      ssize_t n = ::recv(socket, buffer, sizeof buffer, 0);
      if (n <= 0) {
        std::cerr << "\r\ngmm-host: console: node " << node << "'s QEMU closed the console (the VM is gone)\r\n";
        return 1;
      }
      if (!write_fd(STDOUT_FILENO, {buffer, static_cast<std::size_t>(n)})) return 1;
    }
    if (fds[0].revents != 0) {
      ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
      if (n <= 0) return 0;
      std::string_view keys(buffer, static_cast<std::size_t>(n));
      auto detach = keys.find(kDetachKey);
      if (Status sent = write_all(socket, keys.substr(0, detach)); !sent) return fail("console", sent.error().message);
      if (detach != std::string_view::npos) {
        std::cerr << "\r\ngmm-host: detached from node " << node << "'s console\r\n";
        return 0;
      }
    }
  }
}

// Reads console lines (every '\r' dropped) until one holds `marker`, and
// returns that line; `on_line` gets every line before it. nullopt on
// timeout; kIo when the console closes.
template <class OnLine>
Result<std::optional<std::string>> read_until(LineReader& reader, const std::string& marker, const Deadline& deadline,
                                              OnLine&& on_line) {
  for (;;) {
    auto read = reader.next_line(deadline);
    switch (read.got) {
      case LineReader::Got::kLine: break;
      case LineReader::Got::kTimedOut: return std::optional<std::string>();
      case LineReader::Got::kClosed: return make_error(Errc::kIo, "the console closed (the VM is gone)");
      case LineReader::Got::kTooLong:  // no limit here
      case LineReader::Got::kFailed: return make_error(Errc::kIo, "the console: " + read.text);
    }
    std::erase(read.text, '\r');
    if (read.text.find(marker) != std::string::npos) return std::optional(std::move(read.text));
    on_line(read.text);
  }
}

int batch(int socket, std::uint32_t node, std::chrono::seconds timeout) {
  std::string script((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (script.size() > kMaxScript) return fail("console", "--batch input is larger than 1 MiB", 2);
  if (!script.empty() && script.back() != '\n') script += '\n';
  if (script.find_first_not_of(" \t\n") == std::string::npos) script = ":\n";  // `( )` is a syntax error
  // Markers are sent as `__gmm_console_""N_x` so that the shell's echo of
  // the command line (before echo is off) never matches what echo prints.
  const std::string nonce = std::to_string(::getpid()) + "_" +
                            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007);
  auto marker = [&](const char* what) { return "__gmm_console_" + nonce + "_" + what; };
  auto sent_marker = [&](const char* what) { return "__gmm_console_\"\"" + nonce + "_" + what; };
  Deadline deadline(timeout);
  LineReader reader(socket);
  auto ignore = [](const std::string&) {};
  auto failed = [&](const std::string& what) {
    return fail("console", "node " + std::to_string(node) + ": " + what);
  };
  // The shell may not be listening yet (a guest still booting): ask until it answers.
  for (;;) {
    if (deadline.passed()) return failed("the console shell did not answer within " + std::to_string(timeout.count()) + " s");
    if (Status sent = write_all(socket, "echo " + sent_marker("ready") + "\n"); !sent) return failed(sent.error().message);
    auto ready =
        read_until(reader, marker("ready"), Deadline(std::min(milliseconds(500), deadline.remaining())), ignore);
    if (!ready) return failed(ready.error().message);
    if (*ready) break;
  }
  const std::string begin = "stty -echo 2>/dev/null; __gmm_ps1=$PS1 __gmm_ps2=$PS2; PS1='' PS2=''; echo " +
                            sent_marker("begin") + "\n";
  const std::string end = "__gmm_status=$?; PS1=$__gmm_ps1 PS2=$__gmm_ps2; stty echo 2>/dev/null; echo; echo " +
                          sent_marker("end") + " $__gmm_status\n";
  // In a subshell: `exit` in the script ends only that, and the shell keeps
  // the console's state (cd, variables) of an interactive user.
  if (Status sent = write_all(socket, begin + "(\n" + script + ")\n" + end); !sent) return failed(sent.error().message);
  auto started = read_until(reader, marker("begin"), deadline, ignore);
  if (!started) return failed(started.error().message);
  if (!*started) return failed("the console shell stopped answering (--timeout " + std::to_string(timeout.count()) + " s)");
  // The output so far goes out line by line; the `echo` before the end
  // marker ends a last line without a newline, so one empty line is ours.
  std::optional<std::string> pending;
  auto print = [&](const std::string& line) {
    if (pending) std::cout << *pending << "\n" << std::flush;
    pending = line;
  };
  auto finished = read_until(reader, marker("end"), deadline, print);
  if (!finished) return failed(finished.error().message);
  if (!*finished) return failed("the script did not finish within " + std::to_string(timeout.count()) + " s (--timeout)");
  if (pending && !pending->empty()) std::cout << *pending << "\n";
  std::cout << std::flush;
  // "... MARKER N": N is the last command's exit status.
  const std::string& line = **finished;
  const std::string status = line.substr(line.find(marker("end")) + marker("end").size());
  try {
    return std::stoi(status);
  } catch (const std::exception&) {
    return failed("no exit status after the end marker: " + line);
  }
}

}  // namespace

int command_console(const std::string& dir, std::uint32_t node, bool batch_mode, std::chrono::seconds timeout) {
  if (!batch_mode && !(::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO))) {
    return fail("console",
                "stdin or stdout is not a terminal; to pipe commands use --batch "
                "(e.g. echo 'uname -r' | gmm-host console " + std::to_string(node) + " --batch)",
                2);
  }
  auto cluster = recorded_cluster(dir);
  if (!cluster) return fail("console", cluster.error().message);
  if (node >= cluster->nodes.size()) {
    return fail("console", "no node " + std::to_string(node) + " (the cluster has " +
                               std::to_string(cluster->nodes.size()) + ")", 2);
  }
  auto console = make_launcher(cluster->mode)->console(*cluster, node);
  if (!console) return fail("console", console.error().message);
  return batch_mode ? batch(console->stream.get(), node, timeout) : interactive(console->stream.get(), node);
}

}  // namespace gmm::host
