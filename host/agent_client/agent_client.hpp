// Host side of the guest control channel: talks to gmm-agent (guest/agent)
// through the unix socket QEMU serves for the guest's first virtconsole,
//   -chardev socket,id=ctl,path=DIR/nodeK.ctl,server=on,wait=off
//   -device virtio-serial-pci -device virtconsole,chardev=ctl
// One JSON object per line each way (guest/agent/README.md). No guest
// networking involved. Not thread-safe: one caller at a time; concurrent
// commands go through start() + wait().
//
// QEMU accepts one connection on that socket at a time: a second client
// connects but hears nothing until the first one disconnects.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"
#include "io/line_reader.hpp"

namespace gmm::host {

class AgentClient {
 public:
  using Clock = std::chrono::steady_clock;
  using Milliseconds = std::chrono::milliseconds;

  struct Output {
    int status = -1;         // exit status; 128 + signal number if killed
    std::string out, err;    // each cut at 1 MiB by the agent
    bool truncated = false;  // out or err was cut
  };
  struct RunOptions {
    std::vector<std::pair<std::string, std::string>> env;  // on top of the agent's environment
    std::optional<std::string> stdin_data;                 // default: /dev/null
  };
  // Time on top of a command's timeout for its reply to arrive: the agent
  // kills the command at the timeout and still answers.
  static constexpr Milliseconds kReplySlack{5000};
  static constexpr Milliseconds kPingInterval{250};

  // Connects to QEMU's socket, retrying while it does not exist yet or
  // refuses (io/unix_socket.hpp's connect_unix_retry). Errors: kInvalidArgument
  // (a path too long for a unix socket), kIo (still nothing at `timeout`).
  static Result<AgentClient> connect(const std::string& socket_path, Milliseconds timeout);
  // Uses an already connected descriptor (tests: a socketpair or a pty).
  static AgentClient adopt(int fd);

  AgentClient(AgentClient&&) noexcept = default;
  AgentClient& operator=(AgentClient&&) noexcept = default;

  // One ping; returns the guest's uptime.
  Result<Milliseconds> ping(Milliseconds timeout);
  // Pings every kPingInterval until the agent answers (the guest may still
  // be booting); returns the guest's uptime at the first pong.
  Result<Milliseconds> wait_ready(Milliseconds timeout);

  // Runs argv in the guest (PATH lookup, no shell). The command is killed
  // after `timeout`, which is then an error (Errc::kIo), as are a closed
  // channel and a missing reply; a command that cannot start is
  // Errc::kInvalidArgument with the agent's reason.
  Result<Output> run(const std::vector<std::string>& argv, Milliseconds timeout, const RunOptions& options = {});
  // The two halves of run(), for several commands in flight.
  Result<std::uint64_t> start(const std::vector<std::string>& argv, Milliseconds timeout,
                              const RunOptions& options = {});
  Result<Output> wait(std::uint64_t id);

 private:
  struct Pending {
    std::string what;  // for messages: "`argv...`" or "ping"
    Milliseconds timeout;  // the command's, for messages
    Clock::time_point sent_at;
    Clock::time_point deadline;
    std::optional<nlohmann::json> reply;
  };

  AgentClient(int fd, std::string socket_path);
  Result<std::uint64_t> send(nlohmann::json request, Pending pending);
  // The first of `ids` to have its reply; nullopt when `deadline` passed or
  // the channel closed (closed_reason_ says why).
  std::optional<std::uint64_t> await_any(const std::vector<std::uint64_t>& ids, Clock::time_point deadline);
  bool write_all(const std::string& data, Clock::time_point deadline);
  // One line from the agent: a reply to a pending request, or an id-less complaint.
  void take_line(const std::string& line);
  Error channel_error(const std::string& doing) const;
  Error no_reply_error(const Pending& pending) const;
  void close(std::string reason);

  UniqueFd fd_;
  LineReader reader_{-1};    // of fd_
  bool is_socket_ = true;    // else a pty or pipe: write(), not send()
  std::string socket_path_;  // for messages; empty when adopted
  std::string closed_reason_;      // non-empty once the channel is unusable
  std::string agent_complaint_;    // last id-less error line from the agent
  Clock::time_point complained_at_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Pending> pending_;
};

}  // namespace gmm::host
