#include "qemu/qemu_launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include "io/unix_socket.hpp"
#include "launcher/doorbell_server.hpp"
#include "qemu/qemu_node.hpp"
#include "qemu/qemu_up.hpp"
#include "qemu/qmp_events.hpp"
#include "vm/process.hpp"
#include "vm/qemu_command.hpp"

namespace gmm::host {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace qemu;

constexpr auto kQuitGrace = 5s;          // QMP quit, then SIGKILL
constexpr auto kExecTimeout = 120s;      // a command run with exec
constexpr auto kPanicTimeout = 30s;      // sysrq-c until QEMU reports the panic

// One QMP command on the node's monitor.
Status qmp_command(const NodeRecord& node, const std::string& command) {
  auto qmp = qmp_connect(node);
  if (!qmp) return qmp.error();
  auto done = qmp->execute(command);
  if (!done) return make_error(done.error().code, node_name(node.id) + ": QMP " + command + ": " + done.error().message);
  return ok_status();
}

// Adds the node's QMP events to `stream`: its second monitor, and the events
// connect() read already. A node whose QEMU is gone by now adds nothing (the
// stream has its exit).
Status watch_qmp_events(const Cluster& cluster, const NodeRecord& node, LivenessStream& stream) {
  if (!qemu_alive(node)) return ok_status();
  const std::string monitor = vm::node_files(cluster.dir, node.id).events;
  auto events = vm::QmpClient::connect(monitor, kQmpTimeout);
  if (!events) {
    if (!qemu_alive(node)) return ok_status();
    return make_error(events.error().code, node_name(node.id) + ": QMP event monitor " + monitor + ": " +
                                               events.error().message + " (is another watcher attached?)");
  }
  auto early = events->read_events();
  if (!early) return ok_status();  // QEMU exited meanwhile: the stream has its exit
  for (const vm::QmpEvent& event : *early) {
    if (auto liveness = liveness_event(node.id, event)) stream.report(std::move(*liveness));
  }
  return stream.add(std::make_unique<QmpEventSource>(node.id, std::move(*events)));
}

class QemuLauncher final : public Launcher {
 public:
  QemuLauncher() : Launcher(Mode::kVm, "QEMU") {}

  Status check(const UpOptions& options) const override { return qemu::check_options(options); }

  Result<Cluster> up(const UpOptions& options, const std::string& dir) override {
    return qemu::up(options, dir, *this);
  }

  Status stop(const Cluster& cluster, const std::vector<std::uint32_t>& ids) override {
    for (std::uint32_t id : ids) {
      const NodeRecord& node = cluster.nodes.at(id);
      if (!qemu_alive(node)) continue;
      if (auto qmp = vm::QmpClient::connect(node.qmp, 2s); qmp) (void)qmp->execute("quit", nullptr, 2s);
    }
    std::string survivors;
    for (std::uint32_t id : ids) {
      const NodeRecord& node = cluster.nodes.at(id);
      if (vm::wait_gone(node.pid, "qemu-system", kQuitGrace)) continue;
      ::kill(static_cast<pid_t>(node.pid), SIGKILL);
      if (!vm::wait_gone(node.pid, "qemu-system", kQuitGrace)) survivors += " node " + std::to_string(node.id);
    }
    if (!survivors.empty()) return make_error(Errc::kBusy, "still running after SIGKILL:" + survivors);
    return ok_status();
  }

  std::vector<std::string> node_sockets(const Cluster& cluster) const override {
    std::vector<std::string> sockets;
    for (const NodeRecord& node : cluster.nodes) {
      const vm::NodeFiles files = vm::node_files(cluster.dir, node.id);
      sockets.insert(sockets.end(), {node.qmp, node.ctl, files.shell, files.events});
    }
    return sockets;
  }

  Status start(Cluster& cluster, std::uint32_t node, const std::string& crash_at) override {
    NodeRecord& record = cluster.nodes.at(node);
    if (Status fenced = fence(cluster, node); !fenced) {
      return make_error(fenced.error().code, node_name(node) + ": the old QEMU survived SIGKILL");
    }
    if (!doorbell_server_alive(cluster)) {
      return make_error(Errc::kNotFound, "the ivshmem server (pid " + std::to_string(cluster.vm.server_pid) +
                                             ") is gone: no VM can connect to the pool; run `gmm-host down` and `up`");
    }
    // The server must have seen the old QEMU's disconnect before it hands
    // the node's peer id out again; it refuses a second connection for an id.
    std::this_thread::sleep_for(300ms);
    record.crash_at = crash_at;
    {
      std::ofstream log(record.log, std::ios::app);
      log << "\n--- gmm-host restart ---\n";
    }
    // As in up: gmmd starts once the guest clock is the host's.
    auto pid = spawn_qemu(cluster, record, /*manual_gmmd=*/true, crash_at);
    if (!pid) return make_error(pid.error().code, node_name(node) + ": " + pid.error().message);
    record.pid = *pid;
    record.left = false;
    std::vector<std::optional<AgentClient>> agents(cluster.nodes.size());
    Cluster one = cluster;
    one.nodes = {record};
    if (Status ok = wait_agents(one, agents, Clock::now() + 120s); !ok) return ok;
    AgentClient& agent = *agents[node];
    if (Status synced = sync_clocks({&agent}); !synced) {
      return make_error(synced.error().code, node_name(node) + ": setting the guest clock: " + synced.error().message);
    }
    return start_gmmd(agent, record);
  }

  Status kill(const Cluster& cluster, std::uint32_t node) override { return kill_process(cluster, node, kKillTimeout); }

  Status pause(const Cluster& cluster, std::uint32_t node) override {
    const NodeRecord& record = cluster.nodes.at(node);
    if (!qemu_alive(record)) return make_error(Errc::kNotFound, node_name(node) + " is not running (QEMU gone)");
    return qmp_command(record, "stop");
  }

  Status resume(const Cluster& cluster, std::uint32_t node) override {
    return qmp_command(cluster.nodes.at(node), "cont");
  }

  Result<std::optional<std::uint64_t>> panic(const Cluster& cluster, std::uint32_t node) override {
    const NodeRecord& record = cluster.nodes.at(node);
    if (!qemu_alive(record)) return make_error(Errc::kNotFound, node_name(node) + " is not running (QEMU gone)");
    // QMP first, so the GUEST_PANICKED event is seen.
    auto qmp = qmp_connect(record);
    if (!qmp) return qmp.error();
    auto agent = agent_connect(record, 5s);
    if (!agent) return agent.error();
    // The guest dies mid-command: no reply is expected.
    auto started = agent->start({"sh", "-c", "echo c > /proc/sysrq-trigger"}, 5s);
    if (!started) return make_error(started.error().code, node_name(node) + ": sysrq-c: " + started.error().message);
    auto panicked = qmp->wait_event("GUEST_PANICKED", kPanicTimeout);
    if (!panicked) {
      // The host watcher saw the panic on its own monitor, had the node
      // declared and fenced it (QEMU killed) before this monitor said so:
      // panicked all the same; the time is the request's.
      std::ifstream console(record.log);
      const std::string log((std::istreambuf_iterator<char>(console)), std::istreambuf_iterator<char>());
      if (!qemu_alive(record) && log.find("Kernel panic") != std::string::npos) return std::optional<std::uint64_t>();
      return make_error(panicked.error().code, node_name(node) + ": no GUEST_PANICKED from QEMU: " + panicked.error().message);
    }
    return qmp_time_ns(*panicked);
  }

  Status nmi(const Cluster& cluster, std::uint32_t node) override {
    return qmp_command(cluster.nodes.at(node), "inject-nmi");
  }

  Status fence(const Cluster& cluster, std::uint32_t node) override {
    return fence_process(cluster, node, kKillTimeout);
  }

  bool running(const Cluster& cluster, std::uint32_t node) const override {
    return qemu_alive(cluster.nodes.at(node));
  }

  NodeHealth health(const Cluster& cluster, std::uint32_t node) override {
    NodeHealth health{cluster.nodes.at(node), false, false, false, ""};
    const NodeRecord& record = cluster.nodes.at(node);
    if (!qemu_alive(record)) {
      health.detail = "QEMU (pid " + std::to_string(record.pid) + ") is not running";
      return health;
    }
    health.alive = true;
    auto qmp = qmp_connect(record);
    if (!qmp) {
      health.detail = qmp.error().message;
      return health;
    }
    auto status = qmp->status(kQmpTimeout);
    if (!status) {
      health.detail = "QMP query-status: " + status.error().message;
      return health;
    }
    if (*status != "running") {
      health.paused = true;
      health.detail = "VM " + *status;
      return health;
    }
    auto agent = agent_connect(record, 5s);
    if (!agent) {
      health.detail = agent.error().message;
      return health;
    }
    auto ping = agent->run({"gmmctl", "ping"}, 10s, node_env(record));
    if (!ping) {
      health.detail = "agent: " + ping.error().message;
    } else if (ping->status != 0) {
      health.detail = "gmmctl ping: " + ping->err + ping->out;
      while (!health.detail.empty() && health.detail.back() == '\n') health.detail.pop_back();
    } else {
      health.answering = true;
    }
    return health;
  }

  std::optional<std::string> exited(const Cluster& cluster, std::uint32_t node) override {
    const NodeRecord& record = cluster.nodes.at(node);
    if (qemu_alive(record)) return std::nullopt;
    return qemu_failure(record);
  }

  Result<LivenessStream> watch(const Cluster& cluster) override {
    auto stream = watch_exits(cluster);
    if (!stream) return stream.error();
    for (const NodeRecord& node : cluster.nodes) {
      if (Status added = watch_qmp_events(cluster, node, *stream); !added) return added.error();
    }
    return stream;
  }

  Status watch_node(const Cluster& cluster, std::uint32_t node, LivenessStream& stream) override {
    if (Status exits = Launcher::watch_node(cluster, node, stream); !exits) return exits;
    return watch_qmp_events(cluster, cluster.nodes.at(node), stream);
  }

  Result<ExecOutcome> exec(const Cluster& cluster, std::uint32_t node, const std::vector<std::string>& argv) override {
    const NodeRecord& record = cluster.nodes.at(node);
    if (!qemu_alive(record)) {
      return make_error(Errc::kNotFound,
                        node_name(node) + " is not running (QEMU pid " + std::to_string(record.pid) + " gone)");
    }
    auto agent = agent_connect(record, 10s);
    if (!agent) return agent.error();
    auto out = agent->run(argv, kExecTimeout, node_env(record));
    if (!out) {
      // The agent could not start it (no such program, ...): as a shell says.
      if (out.error().code == Errc::kInvalidArgument) return ExecOutcome{127, node_name(node) + ": " + out.error().message};
      return make_error(out.error().code, node_name(node) + ": " + out.error().message);
    }
    std::cout << out->out << std::flush;
    std::cerr << out->err << std::flush;
    return ExecOutcome{out->status, out->truncated ? "output was cut at 1 MiB by the agent" : ""};
  }

  Result<ConsoleConnection> console(const Cluster& cluster, std::uint32_t node) override {
    const NodeRecord& record = cluster.nodes.at(node);
    if (!qemu_alive(record)) {
      return make_error(Errc::kNotFound, node_name(node) + " is not running (its QEMU is gone; see " + record.qemu_log +
                                             "): `gmm-host restart " + std::to_string(node) + "`");
    }
    auto qmp = qmp_connect(record);
    if (!qmp) return qmp.error();
    auto status = qmp->status(kQmpTimeout);
    if (!status) return make_error(status.error().code, node_name(node) + ": QMP query-status: " + status.error().message);
    if (*status != "running") {
      return make_error(Errc::kBusy, node_name(node) + " is stopped (VM " + *status +
                                         "): `gmm-host resume` a paused node, `gmm-host restart` a panicked one");
    }
    const vm::NodeFiles files = vm::node_files(cluster.dir, node);
    UniqueFd lock(::open((files.shell + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      return make_error(Errc::kBusy, node_name(node) + "'s console is in use by another gmm-host console (" +
                                         files.shell + ".lock)");
    }
    auto socket = connect_unix_retry(files.shell, 5s);
    if (!socket) {
      return make_error(socket.error().code, node_name(node) + ": " + socket.error().message +
                                                 " (a VM started before gmm-host had consoles has none: restart it)");
    }
    return ConsoleConnection{std::move(*socket), std::move(lock)};
  }

 protected:
  Result<std::optional<ProcessHandle>> open_process(const Cluster& cluster, std::uint32_t node) const override {
    return open_qemu(cluster.nodes.at(node));
  }
};

}  // namespace

std::unique_ptr<Launcher> make_qemu_launcher() { return std::make_unique<QemuLauncher>(); }

}  // namespace gmm::host
