#include "vm_cluster.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "accel.hpp"
#include "agent_client.hpp"
#include "atomic_check.hpp"
#include "doorbell_server.hpp"
#include "file/file_pool.hpp"
#include "gmm/layout.hpp"
#include "gmm/pool.hpp"
#include "ivshmem/ivshmem_doorbell.hpp"
#include "pool_view.hpp"
#include "process.hpp"
#include "proto/cli_text.hpp"
#include "qemu_command.hpp"
#include "qmp.hpp"

namespace gmm::host::vm {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kGuestSocket = "/run/gmmd.sock";
constexpr std::uint32_t kMaxVmNodes = 16;    // 2 vCPUs and 256 MiB each: more would not fit a test machine
constexpr std::uint32_t kMemoryMb = 256;
constexpr std::uint64_t kAtomicCount = 20'000'000;  // adds per guest: about a second each under TCG
constexpr auto kQmpTimeout = 5s;
constexpr int kTailLines = 15;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string fixed(double value, int decimals = 1) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

bool qemu_alive(const NodeRecord& node) { return process_alive(node.pid, "qemu-system"); }

std::string node_name(std::uint32_t node) { return "node " + std::to_string(node); }

// build/bin/gmm-host -> build (the 9p share), build/image (the image).
fs::path build_dir() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::current_path() : self.parent_path().parent_path();
}

std::string image_dir() {
  if (const char* dir = std::getenv("GMM_IMAGE_DIR"); dir && *dir) return dir;
  return (build_dir() / "image").string();
}

VmSettings settings_for(const Cluster& cluster) {
  VmSettings settings;
  settings.accel = cluster.vm.accel == "kvm" ? Accel::kKvm : Accel::kTcg;
  settings.memory_mb = kMemoryMb;
  settings.kernel = cluster.vm.image_dir + "/vmlinux";
  settings.initrd = cluster.vm.image_dir + "/initramfs.cpio.gz";
  settings.share_dir = cluster.vm.share_dir;
  settings.dir = cluster.dir;
  settings.vectors = ivshmem::kGmmVectors;
  settings.options = {{"role", "node"}};
  return settings;
}

// Starts node's QEMU detached. `manual_gmmd`: the image does not start gmmd
// at boot (up starts it once the pool is checked and formatted).
Result<std::int64_t> spawn_qemu(const Cluster& cluster, const NodeRecord& node, bool manual_gmmd,
                                const std::string& crash_at) {
  VmSettings settings = settings_for(cluster);
  if (manual_gmmd) settings.options.emplace_back("gmmd", "manual");
  if (!crash_at.empty()) settings.options.emplace_back("gmmd-args", "--crash-at," + crash_at);
  auto argv = qemu_argv(settings, node.id);
  if (!argv) return argv.error();
  // The control channel is a virtio-serial port, not a virtconsole: a
  // virtconsole drops what the host does not read fast enough
  // (guest/agent/README.md); the image's agent looks for this port's name.
  for (std::string& arg : *argv) {
    if (arg == "virtconsole,chardev=ctl") arg = "virtserialport,chardev=ctl,name=org.gmm.agent";
  }
  // Stale sockets of a previous QEMU would make this one fail to listen.
  for (const std::string& socket : {node.qmp, node.ctl, node_files(cluster.dir, node.id).shell}) {
    std::error_code ignored;
    fs::remove(socket, ignored);
  }
  {
    std::ofstream log(node.qemu_log, std::ios::app);
    log << "gmm-host: " << shell_line(*argv) << "\n";
  }
  SpawnOptions spawn;
  spawn.output = node.qemu_log;
  spawn.new_session = true;
  auto pid = spawn_process(*argv, spawn);
  if (!pid) return pid.error();
  // Liveness is judged by the command line: wait until the child has exec'd.
  auto deadline = Clock::now() + 5s;
  while (!process_alive(*pid, "qemu-system") && Clock::now() < deadline) {
    if (auto status = wait_process(*pid, 0ms); status) {
      return make_error(Errc::kIo, "QEMU exited at once (status " + std::to_string(*status) + "): " +
                                       file_tail(node.qemu_log, kTailLines));
    }
    std::this_thread::sleep_for(5ms);
  }
  return static_cast<std::int64_t>(*pid);
}

Status check_file(const std::string& path, const std::string& hint) {
  if (::access(path.c_str(), R_OK) != 0) return make_error(Errc::kInvalidArgument, path + " not found; " + hint);
  return ok_status();
}

bool is_power_of_two(std::uint64_t size) { return size != 0 && (size & (size - 1)) == 0; }

std::string qemu_failure(const NodeRecord& node) {
  return node_name(node.id) + ": QEMU (pid " + std::to_string(node.pid) + ") is not running; last lines of " +
         node.qemu_log + ":\n" + file_tail(node.qemu_log, kTailLines) + "last lines of " + node.log + ":\n" +
         file_tail(node.log, kTailLines);
}

Result<QmpClient> qmp_connect(const NodeRecord& node) {
  if (!qemu_alive(node)) return make_error(Errc::kNotFound, qemu_failure(node));
  auto qmp = QmpClient::connect(node.qmp, kQmpTimeout);
  if (!qmp) return make_error(qmp.error().code, node_name(node.id) + ": QMP " + node.qmp + ": " + qmp.error().message);
  return qmp;
}

Result<AgentClient> agent_connect(const NodeRecord& node, std::chrono::milliseconds timeout) {
  auto agent = AgentClient::connect(node.ctl, timeout);
  if (!agent) return make_error(agent.error().code, node_name(node.id) + ": agent: " + agent.error().message);
  return agent;
}

AgentClient::RunOptions node_env(const NodeRecord& node) {
  AgentClient::RunOptions options;
  options.env = {{"GMM_SOCKET", kGuestSocket}, {"GMM_NODE", std::to_string(node.id)}};
  return options;
}

// Sets the guest's CLOCK_REALTIME to the host's. A guest starts from the RTC
// (whole seconds) and was seen 0.4-1.3 s off the host, which skews every
// time the pool records (heartbeats, declarations, recovery) against the
// host's injection times. `date -s @N` (busybox: whole seconds) is sent
// to each guest half its round trip before the host's clock reaches N.
// Measured: heartbeat ages read by the host then 0-100 ms (period 100 ms)
// instead of -0.2..1.3 s. Before gmmd starts: the clock jumps.
Status sync_clocks(std::vector<AgentClient*> agents) {
  using std::chrono::system_clock;
  std::vector<Clock::duration> half_rtt;
  for (AgentClient* agent : agents) {
    auto t0 = Clock::now();
    auto probe = agent->run({"date", "+%s"}, 10s);
    if (!probe) return probe.error();
    half_rtt.push_back((Clock::now() - t0) / 2);
  }
  // One whole second for all, each `date -s` sent half its round trip early.
  auto longest = *std::max_element(half_rtt.begin(), half_rtt.end());
  auto target = std::chrono::ceil<std::chrono::seconds>(system_clock::now() + longest + 100ms);
  std::vector<std::size_t> order(agents.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return half_rtt[a] > half_rtt[b]; });
  const std::vector<std::string> set{"date", "-s", "@" + std::to_string(target.time_since_epoch().count())};
  std::vector<std::uint64_t> ids(agents.size());
  for (std::size_t i : order) {
    std::this_thread::sleep_until(target - half_rtt[i]);
    auto id = agents[i]->start(set, 10s);
    if (!id) return id.error();
    ids[i] = *id;
  }
  for (std::size_t i = 0; i < agents.size(); ++i) {
    auto done = agents[i]->wait(ids[i]);
    if (!done) return done.error();
    if (done->status != 0) return make_error(Errc::kIo, "date -s: " + done->err);
  }
  return ok_status();
}

// Waits until every node's agent answers; fails early when a QEMU exits.
Status wait_agents(const Cluster& cluster, std::vector<std::optional<AgentClient>>& agents,
                   Clock::time_point deadline) {
  for (const NodeRecord& node : cluster.nodes) {
    for (;;) {
      if (!qemu_alive(node)) return make_error(Errc::kIo, qemu_failure(node));
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return make_error(Errc::kBusy, node_name(node.id) + ": the guest agent did not answer in time; " +
                                                          "last lines of " + node.log + ":\n" + file_tail(node.log, kTailLines));
      if (!agents[node.id]) {
        auto agent = agent_connect(node, std::min<std::chrono::milliseconds>(left, 2s));
        if (!agent) continue;
        agents[node.id].emplace(std::move(*agent));
      }
      auto uptime = agents[node.id]->wait_ready(std::min<std::chrono::milliseconds>(left, 2s));
      if (uptime) break;
    }
  }
  return ok_status();
}

// Every listed node is a Member of the pool (and, for a rejoin, a newer
// incarnation than before).
Status wait_members(const Cluster& cluster, const Pool& pool, Clock::time_point deadline) {
  for (;;) {
    std::string waiting;
    for (const NodeRecord& node : cluster.nodes) {
      if (!qemu_alive(node)) return make_error(Errc::kIo, qemu_failure(node));
      SlotView slot = read_slot(pool, node.id);
      if (slot.state != layout::NodeState::kMember) {
        waiting += " " + std::to_string(node.id) + " (" + std::string(node_state_name(slot.state)) + ")";
      }
    }
    if (waiting.empty()) return ok_status();
    if (Clock::now() >= deadline) {
      return make_error(Errc::kBusy, "nodes did not become members in time:" + waiting +
                                         "; see DIR/nodeK.console.log (gmmd logs to the console)");
    }
    std::this_thread::sleep_for(50ms);
  }
}

// Quit every QEMU (QMP, then SIGKILL) and the server. Errors: survivors.
Status stop_all(const Cluster& cluster) {
  for (const NodeRecord& node : cluster.nodes) {
    if (!qemu_alive(node)) continue;
    if (auto qmp = QmpClient::connect(node.qmp, 2s); qmp) (void)qmp->execute("quit", nullptr, 2s);
  }
  std::string survivors;
  for (const NodeRecord& node : cluster.nodes) {
    if (wait_gone(node.pid, "qemu-system", 5s)) continue;
    ::kill(static_cast<pid_t>(node.pid), SIGKILL);
    if (!wait_gone(node.pid, "qemu-system", 5s)) survivors += " node " + std::to_string(node.id);
  }
  if (!stop_doorbell_server(cluster)) survivors += " ivshmem-server";
  if (!survivors.empty()) return make_error(Errc::kBusy, "still running after SIGKILL:" + survivors);
  return ok_status();
}

Status remove_files(const Cluster& cluster) {
  std::vector<std::string> files;
  for (const NodeRecord& node : cluster.nodes)
    files.insert(files.end(), {node.qmp, node.ctl, doorbell_socket(cluster, node.id), node_files(cluster.dir, node.id).shell});
  return remove_cluster_files(cluster, files);
}

std::string live_parts(const Cluster& cluster) {
  std::string live;
  for (const NodeRecord& node : cluster.nodes) {
    if (qemu_alive(node)) live += (live.empty() ? "" : ", ") + node_name(node.id) + " (QEMU pid " + std::to_string(node.pid) + ")";
  }
  if (cluster.mode == Mode::kVm && doorbell_server_alive(cluster)) {
    live += (live.empty() ? "" : ", ") + std::string("ivshmem server");
  }
  return live;
}

Result<Cluster> boot(const UpOptions& options, Cluster& cluster) {
  auto start = Clock::now();
  auto deadline = start + options.ready_timeout;
  auto geometry = pool_geometry(cluster.pool_size, options.nodes, cluster.membership);
  if (!geometry) return geometry.error();
  // Created zero-filled and not formatted yet: the atomic check uses word 0.
  auto mapping = create_pool_file(cluster.pool_path, cluster.pool_size);
  if (!mapping) return make_error(mapping.error().code, "cannot create pool " + cluster.pool_path + ": " + mapping.error().message);
  if (Status ok = start_doorbell_server(cluster); !ok) return ok.error();
  if (Status ok = save_cluster(cluster); !ok) return ok.error();
  for (NodeRecord& node : cluster.nodes) {
    auto pid = spawn_qemu(cluster, node, /*manual_gmmd=*/true, node.crash_at);
    if (!pid) return make_error(pid.error().code, node_name(node.id) + ": " + pid.error().message);
    node.pid = *pid;
    if (Status ok = save_cluster(cluster); !ok) return ok.error();
  }
  std::cout << "up: ivshmem server pid " << cluster.vm.server_pid << ", " << cluster.nodes.size() << " QEMUs ("
            << cluster.vm.accel << ", -smp 2, -m " << kMemoryMb << ") started\n" << std::flush;

  std::vector<std::optional<AgentClient>> agents(cluster.nodes.size());
  if (Status ok = wait_agents(cluster, agents, deadline); !ok) return ok.error();
  double agents_s = seconds_since(start);
  std::cout << "up: all guest agents answer after " << fixed(agents_s) << " s\n" << std::flush;
  std::vector<AgentClient*> all;
  for (auto& agent : agents) all.push_back(&*agent);
  if (Status synced = sync_clocks(all); !synced) {
    return make_error(synced.error().code, "setting the guest clocks: " + synced.error().message);
  }

  if (cluster.nodes.size() >= 2) {
    AtomicCheckOptions check;
    for (const NodeRecord& node : cluster.nodes) check.nodes.push_back(node.id);
    check.offset = 0;  // the superblock's magic, still 0: the pool is not formatted yet
    check.count = kAtomicCount;
    auto run = [&agents](std::uint32_t node, const std::string& command) -> Result<std::string> {
      auto out = agents[node]->run({"sh", "-c", command}, 120s);
      if (!out) return out.error();
      if (out->status != 0) {
        return make_error(Errc::kIo, "`" + command + "` exited with status " + std::to_string(out->status) + ": " +
                                         out->out + out->err);
      }
      return out->out;
    };
    auto report = check_cross_vm_atomics(check, run);
    if (!report) return make_error(report.error().code, "cross-VM atomic check: " + report.error().message);
    std::cout << "up: cross-VM atomics ok: " << report->total << " = " << cluster.nodes.size() << " x " << check.count
              << " in " << fixed(report->seconds, 2) << " s"
              << (report->overlapped ? " (the guests' adds overlapped)" : " (warning: the adds did not overlap; inconclusive)")
              << "\n" << std::flush;
  }

  if (Status formatted = format_pool(**mapping, *geometry); !formatted) {
    return make_error(formatted.error().code, "cannot format pool " + cluster.pool_path + ": " + formatted.error().message);
  }
  auto pool = Pool::attach(**mapping);
  if (!pool) return pool.error();
  // Nodes 0 and 1 join first, one after the other: the first two members
  // get the directory's copies (primary, replica), so they are always on
  // nodes 0 and 1 after `up` (scenarios and docs rely on it), not on
  // whichever guest happened to start gmmd first.
  for (const NodeRecord& node : cluster.nodes) {
    auto out = agents[node.id]->run({"gmmd-start"}, 30s, node_env(node));
    if (!out) return make_error(out.error().code, node_name(node.id) + ": gmmd-start: " + out.error().message);
    if (out->status != 0) {
      return make_error(Errc::kIo, node_name(node.id) + ": gmmd-start exited with status " +
                                       std::to_string(out->status) + ": " + out->out + out->err);
    }
    if (node.id < 2) {
      Cluster joined = cluster;
      joined.nodes = {node};
      if (Status ok = wait_members(joined, *pool, deadline); !ok) return ok.error();
    }
  }
  if (Status ok = wait_members(cluster, *pool, deadline); !ok) return ok.error();
  std::cout << "up: all " << cluster.nodes.size() << " nodes are members " << fixed(seconds_since(start))
            << " s after the QEMUs started\n" << std::flush;
  return cluster;
}

}  // namespace

Result<Cluster> up(const UpOptions& options) {
  if (options.nodes == 0 || options.nodes > kMaxVmNodes) {
    return make_error(Errc::kInvalidArgument, "--nodes must be 1.." + std::to_string(kMaxVmNodes) + " in VM mode");
  }
  if (!is_power_of_two(options.pool_size)) {
    return make_error(Errc::kInvalidArgument,
                      "--pool-size " + format_size(options.pool_size) +
                          " is not a power of two; in VM mode the pool is a PCI BAR (e.g. 128M, 256M, 1G)");
  }
  if (options.membership.heartbeat_ms == 0 || options.membership.heartbeat_ms > 60'000 ||
      options.membership.miss_threshold < 2) {
    return make_error(Errc::kInvalidArgument, "--heartbeat-ms must be 1..60000 and --miss-threshold at least 2");
  }
  if (!options.crash_at.empty()) {
    for (const auto& [id, spec] : options.crash_at) {
      if (id >= options.nodes) return make_error(Errc::kInvalidArgument, "--crash-at names node " + std::to_string(id));
    }
  }
  auto request = parse_accel_request(options.accel);
  if (!request) return make_error(Errc::kInvalidArgument, "--accel is auto, kvm or tcg");
  auto accel = choose_accel(*request, probe_accel_facts());
  if (!accel) return accel.error();

  std::error_code error;
  fs::create_directories(options.dir, error);
  if (error) return make_error(Errc::kIo, "cannot create " + options.dir + ": " + error.message());
  std::string dir = fs::canonical(options.dir).string();
  auto recorded = load_cluster(dir);
  if (!recorded) return recorded.error();
  if (*recorded) {
    if ((*recorded)->mode == Mode::kVm) {
      std::string live = live_parts(**recorded);
      if (!live.empty()) {
        return make_error(Errc::kExists, "a cluster is already running in " + dir + " (" + live +
                                             "); run `gmm-host down` first");
      }
      (void)remove_files(**recorded);
    } else {
      return make_error(Errc::kExists, "a " + std::string(mode_name((*recorded)->mode)) +
                                           "-mode cluster is recorded in " + dir + "; run `gmm-host down` first");
    }
  }

  Cluster cluster = new_cluster(Mode::kVm, dir, options);
  cluster.vm.accel = std::string(accel_name(accel->accel));
  cluster.vm.image_dir = image_dir();
  cluster.vm.share_dir = build_dir().string();
  cluster.vm.server_log = dir + "/ivshmem-server.log";
  cluster.vm.ivshmem_server = (fs::path(options.binaries.gmmd).parent_path() / "gmm-ivshmem-server").string();
  for (const auto& [path, hint] : {std::pair{cluster.vm.image_dir + "/vmlinux", "run `make image`"},
                                   {cluster.vm.image_dir + "/initramfs.cpio.gz", "run `make image`"},
                                   {cluster.vm.ivshmem_server, "build the project (make build)"}}) {
    if (Status ok = check_file(path, hint); !ok) return ok.error();
  }
  std::cout << "up: " << accel->reason << "\n";
  for (std::uint32_t id = 0; id < options.nodes; ++id) {
    NodeFiles files = node_files(dir, id);
    NodeRecord node;
    node.id = id;
    node.socket = kGuestSocket;
    node.log = files.console_log;
    node.qmp = files.qmp;
    node.ctl = files.ctl;
    node.qemu_log = files.qemu_log;
    for (const std::string& path : {files.console_log, files.qemu_log}) std::ofstream truncate(path, std::ios::trunc);
    cluster.nodes.push_back(node);
  }
  for (const auto& [id, spec] : options.crash_at) cluster.nodes[id].crash_at = spec;

  auto booted = boot(options, cluster);
  if (!booted) {
    (void)stop_all(cluster);
    (void)remove_files(cluster);
    return booted.error();
  }
  return booted;
}

NodeHealth node_health(const Cluster& cluster, std::uint32_t node) {
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

Status down(const Cluster& cluster) {
  Status stopped = stop_all(cluster);
  Status removed = remove_files(cluster);
  if (!stopped) return stopped;
  return removed;
}

Status crash_node(const Cluster& cluster, std::uint32_t node, CrashHow how, std::uint64_t* event_ns) {
  const NodeRecord& record = cluster.nodes.at(node);
  if (!qemu_alive(record)) return make_error(Errc::kNotFound, node_name(node) + " is not running (QEMU gone)");
  switch (how) {
    case CrashHow::kKill:
      ::kill(static_cast<pid_t>(record.pid), SIGKILL);
      if (!wait_gone(record.pid, "qemu-system", 10s)) {
        return make_error(Errc::kBusy, node_name(node) + ": QEMU pid " + std::to_string(record.pid) + " survived SIGKILL");
      }
      return ok_status();
    case CrashHow::kPause: {
      auto qmp = qmp_connect(record);
      if (!qmp) return qmp.error();
      auto stopped = qmp->execute("stop");
      if (!stopped) return make_error(stopped.error().code, node_name(node) + ": QMP stop: " + stopped.error().message);
      return ok_status();
    }
    case CrashHow::kPanic: {
      // QMP first, so the GUEST_PANICKED event is seen.
      auto qmp = qmp_connect(record);
      if (!qmp) return qmp.error();
      auto agent = agent_connect(record, 5s);
      if (!agent) return agent.error();
      // The guest dies mid-command: no reply is expected.
      auto started = agent->start({"sh", "-c", "echo c > /proc/sysrq-trigger"}, 5s);
      if (!started) return make_error(started.error().code, node_name(node) + ": sysrq-c: " + started.error().message);
      auto panicked = qmp->wait_event("GUEST_PANICKED", 30s);
      if (!panicked) {
        return make_error(panicked.error().code, node_name(node) + ": no GUEST_PANICKED from QEMU: " + panicked.error().message);
      }
      if (event_ns && panicked->seconds >= 0) {
        *event_ns = static_cast<std::uint64_t>(panicked->seconds) * 1'000'000'000ull +
                    static_cast<std::uint64_t>(panicked->microseconds) * 1000ull;
      }
      return ok_status();
    }
  }
  return make_error(Errc::kInvalidArgument, "unknown crash kind");
}

Status resume_node(const Cluster& cluster, std::uint32_t node) {
  auto qmp = qmp_connect(cluster.nodes.at(node));
  if (!qmp) return qmp.error();
  auto resumed = qmp->execute("cont");
  if (!resumed) return make_error(resumed.error().code, node_name(node) + ": QMP cont: " + resumed.error().message);
  return ok_status();
}

Status start_node(Cluster& cluster, std::uint32_t node, const std::string& crash_at) {
  NodeRecord& record = cluster.nodes.at(node);
  if (qemu_alive(record)) {
    ::kill(static_cast<pid_t>(record.pid), SIGKILL);
    if (!wait_gone(record.pid, "qemu-system", 10s)) {
      return make_error(Errc::kBusy, node_name(node) + ": the old QEMU survived SIGKILL");
    }
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
  auto out = agent.run({"gmmd-start"}, 30s, node_env(record));
  if (!out) return make_error(out.error().code, node_name(node) + ": gmmd-start: " + out.error().message);
  if (out->status != 0) {
    return make_error(Errc::kIo, node_name(node) + ": gmmd-start exited with status " + std::to_string(out->status) +
                                     ": " + out->out + out->err);
  }
  return ok_status();
}

std::optional<std::string> node_exited(const Cluster& cluster, std::uint32_t node) {
  const NodeRecord& record = cluster.nodes.at(node);
  if (qemu_alive(record)) return std::nullopt;
  return qemu_failure(record);
}

int exec(const Cluster& cluster, std::uint32_t node, const std::vector<std::string>& argv) {
  const NodeRecord& record = cluster.nodes.at(node);
  if (!qemu_alive(record)) {
    std::cerr << "gmm-host: exec: " << node_name(node) << " is not running (QEMU pid " << record.pid << " gone)\n";
    return 1;
  }
  auto agent = agent_connect(record, 10s);
  if (!agent) {
    std::cerr << "gmm-host: exec: " << agent.error().message << "\n";
    return 1;
  }
  auto out = agent->run(argv, 120s, node_env(record));
  if (!out) {
    std::cerr << "gmm-host: exec: " << node_name(node) << ": " << out.error().message << "\n";
    return out.error().code == Errc::kInvalidArgument ? 127 : 1;
  }
  std::cout << out->out << std::flush;
  std::cerr << out->err << std::flush;
  if (out->truncated) std::cerr << "gmm-host: exec: output was cut at 1 MiB by the agent\n";
  return out->status;
}

}  // namespace gmm::host::vm
