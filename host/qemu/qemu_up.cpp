#include "qemu/qemu_up.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "file/file_pool.hpp"
#include "gmm/layout.hpp"
#include "gmm/pool.hpp"
#include "launcher/backend_support.hpp"
#include "launcher/doorbell_server.hpp"
#include "pool/pool_view.hpp"
#include "proto/cli_text.hpp"
#include "qemu/qemu_node.hpp"
#include "vm/accel.hpp"
#include "vm/atomic_check.hpp"
#include "vm/qemu_command.hpp"

namespace gmm::host::qemu {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint32_t kMaxVmNodes = 16;           // 2 vCPUs and 256 MiB each: more would not fit a test machine
constexpr std::uint64_t kAtomicCount = 20'000'000;  // adds per guest: about a second each under TCG

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string fixed(double value, int decimals = 1) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

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

Status check_file(const std::string& path, const std::string& hint) {
  if (::access(path.c_str(), R_OK) != 0) return make_error(Errc::kInvalidArgument, path + " not found; " + hint);
  return ok_status();
}

bool is_power_of_two(std::uint64_t size) { return size != 0 && (size & (size - 1)) == 0; }

Result<vm::AccelChoice> choose(const UpOptions& options) {
  auto request = vm::parse_accel_request(options.accel);
  if (!request) return make_error(Errc::kInvalidArgument, "--accel is auto, kvm or tcg");
  return vm::choose_accel(*request, vm::probe_accel_facts());
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

Result<Cluster> boot(const UpOptions& options, Cluster& cluster) {
  auto start = Clock::now();
  auto deadline = start + options.ready_timeout;
  auto geometry = pool_geometry(cluster.pool_size, options.nodes, cluster.membership);
  if (!geometry) return geometry.error();
  // Created zero-filled and not formatted yet: the atomic check uses word 0.
  auto mapping = create_pool_file(cluster.pool_path, cluster.pool_size);
  if (!mapping) return make_error(mapping.error().code, "cannot create pool " + cluster.pool_path + ": " + mapping.error().message);
  if (Status ok = start_doorbell_server(cluster, PoolSizes::kPowerOfTwo); !ok) return ok.error();
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
    vm::AtomicCheckOptions check;
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
    auto report = vm::check_cross_vm_atomics(check, run);
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
    if (Status started = start_gmmd(*agents[node.id], node); !started) return started.error();
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

Status check_options(const UpOptions& options) {
  if (options.nodes == 0 || options.nodes > kMaxVmNodes) {
    return make_error(Errc::kInvalidArgument, "--nodes must be 1.." + std::to_string(kMaxVmNodes) + " in VM mode");
  }
  if (!is_power_of_two(options.pool_size)) {
    return make_error(Errc::kInvalidArgument,
                      "--pool-size " + format_size(options.pool_size) +
                          " is not a power of two; in VM mode the pool is a PCI BAR (e.g. 128M, 256M, 1G)");
  }
  auto accel = choose(options);
  if (!accel) return accel.error();
  return ok_status();
}

Result<Cluster> up(const UpOptions& options, const std::string& dir, Launcher& launcher) {
  auto accel = choose(options);
  if (!accel) return accel.error();
  Cluster cluster = new_cluster(Mode::kVm, dir, options);
  cluster.vm.accel = std::string(vm::accel_name(accel->accel));
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
    vm::NodeFiles files = vm::node_files(dir, id);
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
    // Leave nothing running; keep the logs to read.
    (void)launcher.down(cluster);
    return booted.error();
  }
  return booted;
}

}  // namespace gmm::host::qemu
