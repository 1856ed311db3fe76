#include "proc/gmmd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "launcher/doorbell_server.hpp"
#include "proc/proc_cluster.hpp"
#include "proto/client.hpp"

extern char** environ;

namespace gmm::host::proc {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kPingTimeout = 5s;

}  // namespace

ProcessState gmmd_state(const NodeRecord& node) {
  if (node.pid <= 0) return ProcessState::kGone;
  auto read = [proc = "/proc/" + std::to_string(node.pid)](const char* file) {
    std::ifstream in(proc + file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  std::string stat = read("/stat");
  auto paren = stat.rfind(')');  // the state follows the command name
  if (paren == std::string::npos || paren + 2 >= stat.size()) return ProcessState::kGone;
  char state = stat[paren + 2];
  if (state == 'Z' || state == 'X') return ProcessState::kGone;
  std::string cmdline = read("/cmdline");
  if (cmdline.find(std::string("--socket") + '\0' + node.socket + '\0') == std::string::npos) {
    return ProcessState::kGone;
  }
  return state == 'T' || state == 't' ? ProcessState::kStopped : ProcessState::kRunning;
}

Status ping(const NodeRecord& node) {
  auto client = proto::Client::connect(node.socket);
  if (!client) return client.error();
  proto::Request request;
  request.op = proto::Op::kPing;
  auto reply = client->call(request, kPingTimeout);
  if (!reply) return reply.error();
  if (!reply->contains("node") || (*reply)["node"] != node.id) {
    return make_error(Errc::kIo, "socket " + node.socket + " is served by another node: " + reply->dump());
  }
  return ok_status();
}

Result<std::int64_t> spawn_gmmd(const Cluster& cluster, const NodeRecord& node, bool append_log) {
  std::vector<std::string> args{cluster.binaries.gmmd, "--node",   std::to_string(node.id), "--pool",
                                cluster.pool_path,     "--socket", node.socket};
  // Clusters recorded before the doorbell server existed have none: gmmd polls.
  if (cluster.vm.server_pid > 0) args.insert(args.end(), {"--doorbell", doorbell_socket(cluster, node.id)});
  if (!node.crash_at.empty()) args.insert(args.end(), {"--crash-at", node.crash_at});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // Detached: own session, no terminal, output to the node's log, none of
  // our descriptors (a test harness waits for its pipes to close).
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, node.log.c_str(),
                                   O_WRONLY | O_CREAT | (append_log ? O_APPEND : O_TRUNC), 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int error = posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    return make_error(Errc::kIo, "cannot start " + cluster.binaries.gmmd + " for node " + std::to_string(node.id) +
                                     ": " + std::strerror(error));
  }
  return static_cast<std::int64_t>(pid);
}

std::optional<int> exited_child(std::int64_t pid) {
  int status = 0;
  if (::waitpid(static_cast<pid_t>(pid), &status, WNOHANG) != pid) return std::nullopt;
  return status;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

NodeHealth node_health(const Cluster& cluster, std::uint32_t id) {
  const NodeRecord& node = cluster.nodes.at(id);
  ProcessState state = gmmd_state(node);
  NodeHealth health{node, state != ProcessState::kGone, state == ProcessState::kStopped, false, ""};
  if (!health.alive) {
    health.detail = node.left ? "left the cluster" : "gmmd pid " + std::to_string(node.pid) + " is not running";
  } else if (health.paused) {
    health.detail = "gmmd pid " + std::to_string(node.pid) + " is paused (SIGSTOP)";
  } else {
    Status answered = ping(node);
    health.answering = answered.ok();
    if (!answered) health.detail = answered.error().message;
  }
  return health;
}

Status crash_node(const Cluster& cluster, std::uint32_t id, CrashHow how) {
  const NodeRecord& node = cluster.nodes.at(id);
  ProcessState state = gmmd_state(node);
  std::string who = "node " + std::to_string(id) + "'s gmmd (pid " + std::to_string(node.pid) + ")";
  if (state == ProcessState::kGone) return make_error(Errc::kNotFound, who + " is not running");
  if (how == CrashHow::kPause && state == ProcessState::kStopped) {
    return make_error(Errc::kExists, who + " is already paused");
  }
  int signal = how == CrashHow::kKill ? SIGKILL : SIGSTOP;
  if (::kill(static_cast<pid_t>(node.pid), signal) != 0) {
    return make_error(Errc::kIo, "cannot signal " + who + ": " + std::strerror(errno));
  }
  ProcessState wanted = how == CrashHow::kKill ? ProcessState::kGone : ProcessState::kStopped;
  auto deadline = Clock::now() + kStopGrace;
  while (gmmd_state(node) != wanted) {
    if (Clock::now() >= deadline) {
      return make_error(Errc::kBusy, who + " did not " + std::string(crash_how_name(how)) + " in time");
    }
    std::this_thread::sleep_for(1ms);
  }
  return ok_status();
}

Status resume_node(const Cluster& cluster, std::uint32_t id) {
  const NodeRecord& node = cluster.nodes.at(id);
  std::string who = "node " + std::to_string(id) + "'s gmmd (pid " + std::to_string(node.pid) + ")";
  switch (gmmd_state(node)) {
    case ProcessState::kGone: return make_error(Errc::kNotFound, who + " is not running; use `gmm-host restart`");
    case ProcessState::kRunning: return make_error(Errc::kInvalidArgument, who + " is not paused");
    case ProcessState::kStopped: break;
  }
  if (::kill(static_cast<pid_t>(node.pid), SIGCONT) != 0) {
    return make_error(Errc::kIo, "cannot signal " + who + ": " + std::strerror(errno));
  }
  return ok_status();
}

Status start_node(Cluster& cluster, std::uint32_t id, const std::string& crash_at) {
  NodeRecord& node = cluster.nodes.at(id);
  if (gmmd_alive(node)) {
    return make_error(Errc::kExists, "node " + std::to_string(id) + "'s gmmd is still running (pid " +
                                         std::to_string(node.pid) + "); crash it first");
  }
  node.crash_at = crash_at;
  auto pid = spawn_gmmd(cluster, node, /*append_log=*/true);
  if (!pid) return pid.error();
  node.pid = *pid;
  node.left = false;
  return ok_status();
}

std::optional<std::string> node_exited(const Cluster& cluster, std::uint32_t id) {
  const NodeRecord& node = cluster.nodes.at(id);
  std::string why;
  int status = 0;
  pid_t reaped = ::waitpid(static_cast<pid_t>(node.pid), &status, WNOHANG);
  if (reaped == node.pid) {
    why = describe_exit(status);
  } else if (reaped == 0) {
    return std::nullopt;  // our child (just restarted), still running: perhaps not even exec'd yet
  } else if (!gmmd_alive(node)) {
    why = "is not running";
  } else {
    return std::nullopt;
  }
  return "node " + std::to_string(id) + " (gmmd pid " + std::to_string(node.pid) + ") " + why + "; last lines of " +
         node.log + ":\n" + file_tail(node.log, kLogTailLines);
}

}  // namespace gmm::host::proc
