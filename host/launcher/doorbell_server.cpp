#include "launcher/doorbell_server.hpp"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "io/unix_socket.hpp"
#include "ivshmem/ivshmem_doorbell.hpp"
#include "launcher/backend_support.hpp"
#include "vm/process.hpp"
#include "vm/qemu_command.hpp"

namespace gmm::host {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr const char* kServerName = "gmm-ivshmem-server";

}  // namespace

std::string doorbell_socket(const Cluster& cluster, std::uint32_t node) {
  return vm::node_files(cluster.dir, node).ivshmem;
}

std::string watcher_doorbell_socket(const Cluster& cluster) { return cluster.dir + "/watcher.ivshmem"; }

Status start_doorbell_server(Cluster& cluster, PoolSizes sizes) {
  std::vector<std::string> argv{cluster.vm.ivshmem_server, "--shm", cluster.pool_path, "--vectors",
                                std::to_string(ivshmem::kGmmVectors), "--host-peer", std::to_string(kDoorbellHostPeer),
                                "--retain-peers"};  // a restarted VM must not crash the others (see the flag)
  if (sizes == PoolSizes::kAny) argv.push_back("--any-size");
  for (const NodeRecord& node : cluster.nodes) {
    const std::string socket = doorbell_socket(cluster, node.id);
    if (Status fits = check_socket_path(socket); !fits)
      return make_error(fits.error().code, fits.error().message + "; use a shorter --dir");
    argv.push_back("--peer");
    argv.push_back(std::to_string(node.id) + "=" + socket);
    std::error_code ignored;
    std::filesystem::remove(socket, ignored);
  }
  const std::string watcher_socket = watcher_doorbell_socket(cluster);
  if (check_socket_path(watcher_socket)) {  // too long a path: the watcher cannot ring (nodes see notices at their tick)
    argv.push_back("--peer");
    argv.push_back(std::to_string(kDoorbellWatcherPeer) + "=" + watcher_socket);
    std::error_code ignored;
    std::filesystem::remove(watcher_socket, ignored);
  }
  {
    std::ofstream truncate(cluster.vm.server_log, std::ios::trunc);
  }
  vm::SpawnOptions spawn;
  spawn.output = cluster.vm.server_log;
  spawn.new_session = true;
  auto pid = vm::spawn_process(argv, spawn);
  if (!pid) return pid.error();
  cluster.vm.server_pid = *pid;
  auto deadline = Clock::now() + 10s;
  for (;;) {
    std::ifstream log(cluster.vm.server_log);
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (text.find("ready\n") != std::string::npos) return ok_status();
    if (auto status = vm::wait_process(*pid, 0ms); status) {
      return make_error(Errc::kIo, std::string(kServerName) + " exited (status " + std::to_string(*status) + "): " +
                                       file_tail(cluster.vm.server_log));
    }
    if (Clock::now() >= deadline) return make_error(Errc::kBusy, std::string(kServerName) + " did not get ready in 10 s");
    std::this_thread::sleep_for(20ms);
  }
}

bool doorbell_server_alive(const Cluster& cluster) { return vm::process_alive(cluster.vm.server_pid, kServerName); }

Status stop_doorbell_server(const Cluster& cluster) {
  if (vm::stop_daemon(cluster.vm.server_pid, kServerName, 5s)) return ok_status();
  return make_error(Errc::kBusy, std::string(kServerName) + " (pid " + std::to_string(cluster.vm.server_pid) +
                                     ") survived SIGKILL");
}

}  // namespace gmm::host
