#include "qemu/qemu_node.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "ivshmem/ivshmem_doorbell.hpp"
#include "launcher/backend_support.hpp"
#include "vm/process.hpp"
#include "vm/qemu_command.hpp"

namespace gmm::host::qemu {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kQemuName = "qemu-system";  // what a QEMU's command line holds

vm::VmSettings settings_for(const Cluster& cluster) {
  vm::VmSettings settings;
  settings.accel = cluster.vm.accel == "kvm" ? vm::Accel::kKvm : vm::Accel::kTcg;
  settings.memory_mb = kMemoryMb;
  settings.kernel = cluster.vm.image_dir + "/vmlinux";
  settings.initrd = cluster.vm.image_dir + "/initramfs.cpio.gz";
  settings.share_dir = cluster.vm.share_dir;
  settings.dir = cluster.dir;
  settings.vectors = ivshmem::kGmmVectors;
  settings.options = {{"role", "node"}};
  return settings;
}

}  // namespace

std::string node_name(std::uint32_t node) { return "node " + std::to_string(node); }

bool qemu_alive(const NodeRecord& node) { return vm::process_alive(node.pid, kQemuName); }

Result<std::optional<ProcessHandle>> open_qemu(const NodeRecord& node) {
  return ProcessHandle::open(node.pid, [&node] { return qemu_alive(node); });
}

std::string qemu_failure(const NodeRecord& node) {
  return node_name(node.id) + ": QEMU (pid " + std::to_string(node.pid) + ") is not running; last lines of " +
         node.qemu_log + ":\n" + file_tail(node.qemu_log) + "last lines of " + node.log + ":\n" + file_tail(node.log);
}

Result<std::int64_t> spawn_qemu(const Cluster& cluster, const NodeRecord& node, bool manual_gmmd,
                                const std::string& crash_at) {
  vm::VmSettings settings = settings_for(cluster);
  if (manual_gmmd) settings.options.emplace_back("gmmd", "manual");
  if (!crash_at.empty()) settings.options.emplace_back("gmmd-args", "--crash-at," + crash_at);
  auto argv = vm::qemu_argv(settings, node.id);
  if (!argv) return argv.error();
  // The control channel is a virtio-serial port, not a virtconsole: a
  // virtconsole drops what the host does not read fast enough
  // (guest/agent/README.md); the image's agent looks for this port's name.
  for (std::string& arg : *argv) {
    if (arg == "virtconsole,chardev=ctl") arg = "virtserialport,chardev=ctl,name=org.gmm.agent";
  }
  // Stale sockets of a previous QEMU would make this one fail to listen.
  const vm::NodeFiles files = vm::node_files(cluster.dir, node.id);
  for (const std::string& socket : {node.qmp, node.ctl, files.shell, files.events}) {
    std::error_code ignored;
    fs::remove(socket, ignored);
  }
  {
    std::ofstream log(node.qemu_log, std::ios::app);
    log << "gmm-host: " << vm::shell_line(*argv) << "\n";
  }
  vm::SpawnOptions spawn;
  spawn.output = node.qemu_log;
  spawn.new_session = true;
  auto pid = vm::spawn_process(*argv, spawn);
  if (!pid) return pid.error();
  // Liveness is judged by the command line: wait until the child has exec'd.
  auto deadline = Clock::now() + 5s;
  while (!vm::process_alive(*pid, kQemuName) && Clock::now() < deadline) {
    if (auto status = vm::wait_process(*pid, 0ms); status) {
      return make_error(Errc::kIo, "QEMU exited at once (status " + std::to_string(*status) + "): " +
                                       file_tail(node.qemu_log));
    }
    std::this_thread::sleep_for(5ms);
  }
  return static_cast<std::int64_t>(*pid);
}

Result<vm::QmpClient> qmp_connect(const NodeRecord& node) {
  if (!qemu_alive(node)) return make_error(Errc::kNotFound, qemu_failure(node));
  auto qmp = vm::QmpClient::connect(node.qmp, kQmpTimeout);
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

Status wait_agents(const Cluster& cluster, std::vector<std::optional<AgentClient>>& agents,
                   Clock::time_point deadline) {
  for (const NodeRecord& node : cluster.nodes) {
    for (;;) {
      if (!qemu_alive(node)) return make_error(Errc::kIo, qemu_failure(node));
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return make_error(Errc::kBusy, node_name(node.id) + ": the guest agent did not answer in time; " +
                                                          "last lines of " + node.log + ":\n" + file_tail(node.log));
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

// A guest starts from the RTC (whole seconds) and was seen 0.4-1.3 s off
// the host, which skews every time the pool records (heartbeats,
// declarations, recovery) against the host's injection times. `date -s @N`
// (busybox: whole seconds) is sent to each guest half its round trip before
// the host's clock reaches N. Measured: heartbeat ages read by the host then
// 0-100 ms (period 100 ms) instead of -0.2..1.3 s. Before gmmd starts: the
// clock jumps.
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

Status start_gmmd(AgentClient& agent, const NodeRecord& node) {
  auto out = agent.run({"gmmd-start"}, 30s, node_env(node));
  if (!out) return make_error(out.error().code, node_name(node.id) + ": gmmd-start: " + out.error().message);
  if (out->status != 0) {
    return make_error(Errc::kIo, node_name(node.id) + ": gmmd-start exited with status " +
                                     std::to_string(out->status) + ": " + out->out + out->err);
  }
  return ok_status();
}

}  // namespace gmm::host::qemu
