#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "io/deadline.hpp"
#include "io/unix_socket.hpp"

namespace gmm::host::vm {

Result<pid_t> spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return make_error(Errc::kInvalidArgument, "spawn: empty command");
  // Everything the child needs is prepared before fork (only async-signal-safe calls after it).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out = -1;
  if (!options.output.empty()) {
    out = ::open(options.output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) return make_error(Errc::kIo, errno_text("spawn: open " + options.output));
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    if (out >= 0) ::close(out);
    return make_error(Errc::kIo, errno_text("fork"));
  }
  if (pid == 0) {
    if (options.new_session) ::setsid();
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // it died before prctl
    }
    int in = ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    if (options.nice != 0) ::setpriority(PRIO_PROCESS, 0, ::getpriority(PRIO_PROCESS, 0) + options.nice);
    ::execvp(args[0], args.data());
    const char* why = std::strerror(errno);
    (void)!::write(2, "exec failed: ", 13);
    (void)!::write(2, args[0], std::strlen(args[0]));
    (void)!::write(2, ": ", 2);
    (void)!::write(2, why, std::strlen(why));
    (void)!::write(2, "\n", 1);
    ::_exit(127);
  }
  if (out >= 0) ::close(out);
  return pid;
}

std::optional<int> wait_process(pid_t pid, std::chrono::milliseconds timeout) {
  Deadline deadline(timeout);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    if (r < 0 && errno != EINTR) return -1;  // not our child (any more)
    if (deadline.passed()) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int stop_process(pid_t pid, std::chrono::milliseconds grace) {
  ::kill(pid, SIGTERM);
  if (auto status = wait_process(pid, grace)) return *status;
  ::kill(pid, SIGKILL);
  return wait_process(pid, std::chrono::seconds(10)).value_or(-1);
}

bool process_alive(std::int64_t pid, const std::string& name_part) {
  if (pid <= 0) return false;
  ::waitpid(static_cast<pid_t>(pid), nullptr, WNOHANG);
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z') return false;
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return args.find(name_part) != std::string::npos;
}

bool wait_gone(std::int64_t pid, const std::string& name_part, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process_alive(pid, name_part)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

bool stop_daemon(std::int64_t pid, const std::string& name_part, std::chrono::milliseconds grace) {
  if (!process_alive(pid, name_part)) return true;
  ::kill(static_cast<pid_t>(pid), SIGTERM);
  if (wait_gone(pid, name_part, grace)) return true;
  ::kill(static_cast<pid_t>(pid), SIGKILL);
  return wait_gone(pid, name_part, grace);
}

}  // namespace gmm::host::vm
