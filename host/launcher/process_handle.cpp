#include "launcher/process_handle.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/deadline.hpp"
#include "io/unix_socket.hpp"

namespace gmm::host {
namespace {

// The syscalls themselves: glibc 2.36's <sys/pidfd.h> declares its wrappers
// without extern "C", so C++ cannot link them. Linux 5.3 and later.
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int signo) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0));
}

}  // namespace

Result<std::optional<ProcessHandle>> ProcessHandle::open(std::int64_t pid, const std::function<bool()>& still_ours) {
  if (pid <= 0) return std::optional<ProcessHandle>();
  UniqueFd pidfd(pidfd_open(static_cast<pid_t>(pid)));
  if (!pidfd) {
    if (errno == ESRCH) return std::optional<ProcessHandle>();
    return make_error(Errc::kIo, errno_text("pidfd_open " + std::to_string(pid)));
  }
  if (!still_ours()) return std::optional<ProcessHandle>();
  return std::optional<ProcessHandle>(ProcessHandle(pid, std::move(pidfd)));
}

Status ProcessHandle::signal(int signo) const {
  if (pidfd_send_signal(pidfd_.get(), signo) != 0 && errno != ESRCH) {
    return make_error(Errc::kIo, errno_text("cannot signal pid " + std::to_string(pid_)));
  }
  return ok_status();  // ESRCH: it has exited already, which is what a kill wants
}

bool ProcessHandle::wait_exit(std::chrono::milliseconds timeout) const {
  Deadline deadline(timeout);
  for (;;) {
    pollfd exited{pidfd_.get(), POLLIN, 0};
    int ready = ::poll(&exited, 1, static_cast<int>(deadline.remaining().count()));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

std::optional<std::string> ProcessHandle::exit_description() const {
  siginfo_t info{};
  // Reaps it if it is our child; ECHILD if it is not.
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0) {
    return std::nullopt;
  }
  if (info.si_code == CLD_EXITED) return "exited with status " + std::to_string(info.si_status);
  return std::string("was killed by signal ") + strsignal(info.si_status);
}

Status kill_and_wait(const ProcessHandle& process, const std::string& who, std::chrono::milliseconds timeout) {
  if (Status sent = process.signal(SIGKILL); !sent) return make_error(sent.error().code, who + ": " + sent.error().message);
  if (!process.wait_exit(timeout)) {
    return make_error(Errc::kBusy, who + " (pid " + std::to_string(process.pid()) + ") survived SIGKILL for " +
                                       std::to_string(timeout.count()) + " ms");
  }
  return ok_status();
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace gmm::host
