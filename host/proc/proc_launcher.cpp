#include "proc/proc_launcher.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "launcher/backend_support.hpp"
#include "proc/gmmd.hpp"
#include "proc/proc_up.hpp"

namespace gmm::host {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using proc::gmmd_alive;
using proc::gmmd_state;
using proc::kStopGrace;
using proc::ProcessState;

constexpr auto kPollPeriod = 100ms;

bool wait_until_gone(const std::vector<const NodeRecord*>& nodes, Clock::time_point deadline) {
  for (;;) {
    bool any_alive = false;
    for (const NodeRecord* node : nodes) any_alive = any_alive || gmmd_alive(*node);
    if (!any_alive) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollPeriod);
  }
}

// What a program run on the node finds: the node's socket, id, pool and cluster.
void set_node_environment(const Cluster& cluster, std::uint32_t node) {
  ::setenv("GMM_SOCKET", cluster.nodes.at(node).socket.c_str(), 1);
  ::setenv("GMM_NODE", std::to_string(node).c_str(), 1);
  ::setenv("GMM_POOL", cluster.pool_path.c_str(), 1);
  ::setenv("GMM_CLUSTER_DIR", cluster.dir.c_str(), 1);
}

// `gmmctl` is the one built with this gmm-host, else the one the cluster
// recorded; other programs built with gmm-host (examples) come before $PATH.
std::string resolve_program(const Cluster& cluster, const std::string& program) {
  const std::string gmmctl = sibling_binaries().gmmctl;
  if (program == "gmmctl") return ::access(gmmctl.c_str(), X_OK) == 0 ? gmmctl : cluster.binaries.gmmctl;
  if (program.find('/') != std::string::npos) return program;
  std::string sibling = std::filesystem::path(gmmctl).parent_path() / program;
  return ::access(sibling.c_str(), X_OK) == 0 ? sibling : program;
}

class ProcLauncher final : public Launcher {
 public:
  ProcLauncher() : Launcher(Mode::kProc, "gmmd") {}

  Status check(const UpOptions& options) const override { return proc::check_options(options); }
  bool host_clock() const override { return true; }

  Result<Cluster> up(const UpOptions& options, const std::string& dir) override {
    return proc::up(options, dir, *this);
  }

  Status stop(const Cluster& cluster, const std::vector<std::uint32_t>& ids) override {
    std::vector<const NodeRecord*> nodes;
    for (std::uint32_t id : ids) nodes.push_back(&cluster.nodes.at(id));
    for (const NodeRecord* node : nodes) {
      if (!gmmd_alive(*node)) continue;
      ::kill(static_cast<pid_t>(node->pid), SIGTERM);
      ::kill(static_cast<pid_t>(node->pid), SIGCONT);  // a paused node must run to see it
    }
    if (wait_until_gone(nodes, Clock::now() + kStopGrace)) return ok_status();
    for (const NodeRecord* node : nodes) {
      if (gmmd_alive(*node)) {
        std::cerr << "gmm-host: node " << node->id << " (pid " << node->pid << ") ignored SIGTERM for "
                  << kStopGrace.count() << " s; killing it\n";
        ::kill(static_cast<pid_t>(node->pid), SIGKILL);
      }
    }
    if (wait_until_gone(nodes, Clock::now() + kStopGrace)) return ok_status();
    std::string survivors;
    for (const NodeRecord* node : nodes) {
      if (gmmd_alive(*node)) survivors += " " + std::to_string(node->id) + " (pid " + std::to_string(node->pid) + ")";
    }
    return make_error(Errc::kBusy, "nodes survived SIGKILL:" + survivors);
  }

  std::vector<std::string> node_sockets(const Cluster& cluster) const override {
    std::vector<std::string> sockets;
    for (const NodeRecord& node : cluster.nodes) sockets.push_back(node.socket);
    return sockets;
  }

  Status start(Cluster& cluster, std::uint32_t id, const std::string& crash_at) override {
    NodeRecord& node = cluster.nodes.at(id);
    if (gmmd_alive(node)) {
      return make_error(Errc::kExists, "node " + std::to_string(id) + "'s gmmd is still running (pid " +
                                           std::to_string(node.pid) + "); crash it first");
    }
    node.crash_at = crash_at;
    auto pid = proc::spawn_gmmd(cluster, node, /*append_log=*/true);
    if (!pid) return pid.error();
    node.pid = *pid;
    node.left = false;
    return ok_status();
  }

  Status kill(const Cluster& cluster, std::uint32_t node) override { return kill_process(cluster, node, kStopGrace); }

  Status pause(const Cluster& cluster, std::uint32_t id) override {
    const NodeRecord& node = cluster.nodes.at(id);
    auto gmmd = open_process(cluster, id);
    if (!gmmd) return gmmd.error();
    if (!*gmmd) return make_error(Errc::kNotFound, who(node) + " is not running");
    if (gmmd_state(node) == ProcessState::kStopped) return make_error(Errc::kExists, who(node) + " is already paused");
    if (Status sent = (*gmmd)->signal(SIGSTOP); !sent) return sent;
    // Stopping shows only in /proc (we are not its parent to be told).
    auto deadline = Clock::now() + kStopGrace;
    while (gmmd_state(node) != ProcessState::kStopped) {
      if (Clock::now() >= deadline) return make_error(Errc::kBusy, who(node) + " did not pause in time");
      std::this_thread::sleep_for(1ms);
    }
    return ok_status();
  }

  Status resume(const Cluster& cluster, std::uint32_t id) override {
    const NodeRecord& node = cluster.nodes.at(id);
    switch (gmmd_state(node)) {
      case ProcessState::kGone: return make_error(Errc::kNotFound, who(node) + " is not running; use `gmm-host restart`");
      case ProcessState::kRunning: return make_error(Errc::kInvalidArgument, who(node) + " is not paused");
      case ProcessState::kStopped: break;
    }
    if (::kill(static_cast<pid_t>(node.pid), SIGCONT) != 0) {
      return make_error(Errc::kIo, "cannot signal " + who(node) + ": " + std::strerror(errno));
    }
    return ok_status();
  }

  Result<std::optional<std::uint64_t>> panic(const Cluster&, std::uint32_t) override {
    return unsupported(*this, "panic a node", "its nodes are host processes with no kernel of their own (--mode vm)");
  }

  Status nmi(const Cluster&, std::uint32_t) override {
    return unsupported(*this, "send an NMI", "its nodes are host processes with no CPUs of their own (--mode vm)");
  }

  Status fence(const Cluster& cluster, std::uint32_t node) override {
    return fence_process(cluster, node, kStopGrace);
  }

  Status fence_clients(const Cluster& cluster, std::uint32_t node) override {
    std::string survivors;
    for (std::int64_t pid : proc::node_client_pids(cluster, node)) {
      auto process = ProcessHandle::open(pid, [] { return true; });
      if (!process || !*process) continue;  // gone meanwhile
      const std::string who = "node " + std::to_string(node) + "'s client (pid " + std::to_string(pid) + ")";
      if (Status killed = kill_and_wait(**process, who, kStopGrace); !killed) survivors += " " + std::to_string(pid);
    }
    if (!survivors.empty()) return make_error(Errc::kBusy, "node " + std::to_string(node) + "'s clients survived SIGKILL:" + survivors);
    return ok_status();
  }

  bool running(const Cluster& cluster, std::uint32_t node) const override {
    return gmmd_alive(cluster.nodes.at(node));
  }

  NodeHealth health(const Cluster& cluster, std::uint32_t id) override {
    const NodeRecord& node = cluster.nodes.at(id);
    ProcessState state = gmmd_state(node);
    NodeHealth health{node, state != ProcessState::kGone, state == ProcessState::kStopped, false, ""};
    if (!health.alive) {
      health.detail = node.left ? "left the cluster" : "gmmd pid " + std::to_string(node.pid) + " is not running";
    } else if (health.paused) {
      health.detail = "gmmd pid " + std::to_string(node.pid) + " is paused (SIGSTOP)";
    } else {
      Status answered = proc::ping(node);
      health.answering = answered.ok();
      if (!answered) health.detail = answered.error().message;
    }
    return health;
  }

  std::optional<std::string> exited(const Cluster& cluster, std::uint32_t id) override {
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
           node.log + ":\n" + file_tail(node.log);
  }

  Result<LivenessStream> watch(const Cluster& cluster) override { return watch_exits(cluster); }

  Result<ExecOutcome> exec(const Cluster& cluster, std::uint32_t node, const std::vector<std::string>& argv) override {
    set_node_environment(cluster, node);
    std::vector<std::string> args = argv;
    args[0] = resolve_program(cluster, args[0]);
    std::vector<char*> c_args;
    for (std::string& arg : args) c_args.push_back(arg.data());
    c_args.push_back(nullptr);
    ::execvp(c_args[0], c_args.data());
    return ExecOutcome{127, "cannot run " + args[0] + ": " + std::strerror(errno)};
  }

  Result<ConsoleConnection> console(const Cluster& cluster, std::uint32_t) override {
    return unsupported(*this, "attach a console",
                       "the cluster in " + cluster.dir +
                           " runs in process mode: its nodes are host processes (use `gmm-host exec NODE -- CMD`)");
  }

 protected:
  Result<std::optional<ProcessHandle>> open_process(const Cluster& cluster, std::uint32_t node) const override {
    return proc::open_gmmd(cluster.nodes.at(node));
  }
};

}  // namespace

std::unique_ptr<Launcher> make_proc_launcher() { return std::make_unique<ProcLauncher>(); }

}  // namespace gmm::host
