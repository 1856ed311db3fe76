#include "proc/proc_up.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "file/file_pool.hpp"
#include "gmm/pool.hpp"
#include "io/unix_socket.hpp"
#include "launcher/backend_support.hpp"
#include "launcher/doorbell_server.hpp"
#include "proc/gmmd.hpp"

namespace gmm::host::proc {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kPollPeriod = 100ms;

// A failed `up` stops the children it started by pid alone: until reaped,
// their pids cannot be reused, and a gmmd that died early has no identity
// left to check.
void stop_children(const std::vector<NodeRecord>& nodes) {
  // Reaps an exited child; a pid that is no longer our child (reaped while
  // waiting for the nodes) counts as done and is never signalled.
  auto done = [](std::int64_t pid) { return ::waitpid(static_cast<pid_t>(pid), nullptr, WNOHANG) != 0; };
  std::vector<std::int64_t> running;
  for (const NodeRecord& node : nodes) {
    if (node.pid > 0 && !done(node.pid)) running.push_back(node.pid);
  }
  for (std::int64_t pid : running) ::kill(static_cast<pid_t>(pid), SIGTERM);
  auto deadline = Clock::now() + kStopGrace;
  while (!running.empty() && Clock::now() < deadline) {
    std::erase_if(running, done);
    std::this_thread::sleep_for(kPollPeriod);
  }
  for (std::int64_t pid : running) {
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
  }
}

Status check_binary(const std::string& path, const char* what) {
  if (::access(path.c_str(), X_OK) != 0) {
    return make_error(Errc::kInvalidArgument, std::string(what) + " not found or not executable at " + path);
  }
  return ok_status();
}

Status create_pool(const std::string& path, std::uint64_t size, std::uint32_t nodes, const Membership& membership) {
  auto geometry = pool_geometry(size, nodes, membership);
  if (!geometry) return geometry.error();
  auto mapping = create_pool_file(path, size);
  if (!mapping) return make_error(mapping.error().code, "cannot create pool " + path + ": " + mapping.error().message);
  Status formatted = format_pool(**mapping, *geometry);
  if (!formatted) {
    std::error_code ignored;
    fs::remove(path, ignored);
    return make_error(formatted.error().code, "cannot format pool " + path + ": " + formatted.error().message);
  }
  return ok_status();
}

Status wait_until_ready(const Cluster& cluster, Clock::time_point deadline) {
  std::vector<std::string> waiting_for(cluster.nodes.size(), "not asked yet");
  for (;;) {
    bool all_ready = true;
    for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
      const NodeRecord& node = cluster.nodes[i];
      if (waiting_for[i].empty()) continue;
      if (auto status = exited_child(node.pid)) {
        return make_error(Errc::kIo, "node " + std::to_string(node.id) + " (gmmd pid " + std::to_string(node.pid) +
                                         ") " + describe_exit(*status) + " before answering; last lines of " +
                                         node.log + ":\n" + file_tail(node.log));
      }
      Status answered = ping(node);
      waiting_for[i] = answered ? "" : answered.error().message;
      all_ready = all_ready && answered.ok();
    }
    if (all_ready) return ok_status();
    if (Clock::now() >= deadline) {
      std::string report;
      for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
        if (waiting_for[i].empty()) continue;
        const NodeRecord& node = cluster.nodes[i];
        report += "\nnode " + std::to_string(node.id) + ": " + waiting_for[i] + "; last lines of " + node.log +
                  ":\n" + file_tail(node.log);
      }
      return make_error(Errc::kIo, "nodes did not answer ping in time:" + report);
    }
    std::this_thread::sleep_for(kPollPeriod);
  }
}

}  // namespace

Status check_options(const UpOptions& options) {
  if (options.nodes == 0 || options.nodes > layout::kMaxNodes) {
    return make_error(Errc::kInvalidArgument, "--nodes must be 1.." + std::to_string(layout::kMaxNodes));
  }
  return ok_status();
}

Result<Cluster> up(const UpOptions& options, const std::string& dir, const Launcher& launcher) {
  Cluster cluster = new_cluster(Mode::kProc, dir, options);
  cluster.vm.server_log = dir + "/ivshmem-server.log";
  cluster.vm.ivshmem_server = (fs::path(cluster.binaries.gmmd).parent_path() / "gmm-ivshmem-server").string();
  for (std::uint32_t id = 0; id < options.nodes; ++id) {
    NodeRecord node;
    node.id = id;
    node.socket = dir + "/node" + std::to_string(id) + ".sock";
    node.log = dir + "/node" + std::to_string(id) + ".log";
    if (Status fits = check_socket_path(node.socket); !fits) {
      return make_error(fits.error().code, fits.error().message + "; use a shorter --dir");
    }
    cluster.nodes.push_back(node);
  }
  for (const auto& [id, spec] : options.crash_at) cluster.nodes[id].crash_at = spec;
  for (Status check : {check_binary(cluster.binaries.gmmd, "gmmd"), check_binary(cluster.binaries.gmmctl, "gmmctl"),
                       check_binary(cluster.vm.ivshmem_server, "gmm-ivshmem-server")}) {
    if (!check) return check.error();
  }
  Status pool = create_pool(cluster.pool_path, cluster.pool_size, options.nodes, cluster.membership);
  if (!pool) return pool.error();

  // The doorbells: every gmmd connects to it (--doorbell DIR/nodeK.ivshmem).
  Status started = start_doorbell_server(cluster, PoolSizes::kAny);
  for (NodeRecord& node : cluster.nodes) {
    if (!started) break;
    auto pid = spawn_gmmd(cluster, node, /*append_log=*/false);
    if (!pid) {
      started = pid.error();
      break;
    }
    node.pid = *pid;
  }
  if (started) started = save_cluster(cluster);
  if (started) started = wait_until_ready(cluster, Clock::now() + options.ready_timeout);
  if (!started) {
    // Leave nothing running; keep the logs to read.
    stop_children(cluster.nodes);
    (void)stop_doorbell_server(cluster);
    (void)launcher.remove_files(cluster);
    return started.error();
  }
  return cluster;
}

}  // namespace gmm::host::proc
