// A node's process (gmmd in process mode, QEMU in VM mode) held by a pidfd:
// signals and waits reach that very process even after its pid is reused,
// and its exit is an event (the pidfd turns readable) instead of something
// to poll /proc for. Both launchers kill, fence and watch through it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"

namespace gmm::host {

class ProcessHandle {
 public:
  // Opens a pidfd for `pid`, then asks `still_ours` whether the pid names the
  // expected program (a check made after the open holds for the pidfd: the
  // pid cannot be reused while it is open). nullopt: no such process, a
  // zombie, or another program. Errors: pidfd_open failed for another reason.
  static Result<std::optional<ProcessHandle>> open(std::int64_t pid, const std::function<bool()>& still_ours);

  std::int64_t pid() const { return pid_; }
  int fd() const { return pidfd_.get(); }  // readable once the process has exited

  // pidfd_send_signal. Errors: kIo with strerror.
  Status signal(int signo) const;
  // Until the process has exited; false if it still runs after `timeout`.
  bool wait_exit(std::chrono::milliseconds timeout) const;
  // How it ended, when it has and is our child ("exited with status 1",
  // "was killed by signal Killed"); nullopt otherwise (a node's process is
  // usually a child of whoever ran `gmm-host up`, not ours).
  std::optional<std::string> exit_description() const;

 private:
  ProcessHandle(std::int64_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  std::int64_t pid_;
  UniqueFd pidfd_;
};

// Sends SIGKILL and waits until the process is gone: afterwards it cannot
// touch the pool again (its mappings die with it). Errors: kBusy naming
// `who` if it still runs after `timeout`.
Status kill_and_wait(const ProcessHandle& process, const std::string& who, std::chrono::milliseconds timeout);

// "exited with status 1", "was killed by signal Killed", from a wait status.
std::string describe_exit(int status);

}  // namespace gmm::host
