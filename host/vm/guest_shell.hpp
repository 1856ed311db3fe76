// Running commands in a guest through its control channel: the virtconsole
// (DIR/nodeK.ctl on the host, /dev/hvc0 in the guest) on which the image's
// /init starts a shell when no gmm.init is given. No guest networking needed.
//
// Each command goes as one line,
//   echo __gmm_b_<n>; ( CMD ) </dev/null 2>&1; echo __gmm_e_<n> $?
// and its output is what comes between the two markers; the second carries
// the exit status. The shell's tty echo and prompt are switched off once it
// answers, but the parser does not rely on that (an echoed command line never
// matches a marker line). The base of `gmm-host exec NODE -- CMD` in VM mode.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"
#include "io/line_reader.hpp"

namespace gmm::host::vm {

class GuestShell {
 public:
  struct Output {
    int status = -1;
    std::string text;  // stdout+stderr, '\n'-separated, no '\r'
  };

  // Connects to the control socket (retrying while QEMU creates it).
  static Result<GuestShell> connect(const std::string& ctl_path, std::chrono::milliseconds timeout);
  // Pokes the guest every 300 ms until its shell answers (the guest may
  // still be booting), then turns off tty echo and the prompt.
  Status wait_ready(std::chrono::milliseconds timeout);
  // Runs `command` (a shell line) and returns its output and status.
  // Errors: kIo on timeout (the guest may be stuck: the command keeps running)
  // or when the channel closes (QEMU exited).
  Result<Output> run(const std::string& command, std::chrono::milliseconds timeout);

 private:
  explicit GuestShell(UniqueFd socket) : socket_(std::move(socket)), reader_(socket_.get()) {}
  // Next complete line (without "\r\n"), nullopt on timeout; kIo when the
  // channel closes or fails.
  Result<std::optional<std::string>> read_line(std::chrono::milliseconds timeout);

  UniqueFd socket_;
  LineReader reader_;  // of socket_
  std::string nonce_;  // per connection, so stale lines of an earlier session never match
  std::uint64_t next_ = 1;
};

}  // namespace gmm::host::vm
