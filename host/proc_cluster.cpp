#include "proc_cluster.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <iostream>
#include <thread>

#include "doorbell_server.hpp"
#include "file/file_pool.hpp"
#include "gmm/pool.hpp"
#include "proc_gmmd.hpp"
#include "proto/cli_text.hpp"
#include "proto/client.hpp"

namespace gmm::host::proc {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kPollPeriod = 100ms;

bool wait_until_gone(const std::vector<NodeRecord>& nodes, Clock::time_point deadline) {
  for (;;) {
    bool any_alive = false;
    for (const NodeRecord& node : nodes) any_alive = any_alive || gmmd_alive(node);
    if (!any_alive) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollPeriod);
  }
}

// SIGTERM (gmmd leaves cleanly), SIGKILL whoever ignores it. Errors name
// the nodes that survived even SIGKILL.
Status stop_nodes(const std::vector<NodeRecord>& nodes) {
  for (const NodeRecord& node : nodes) {
    if (!gmmd_alive(node)) continue;
    ::kill(static_cast<pid_t>(node.pid), SIGTERM);
    ::kill(static_cast<pid_t>(node.pid), SIGCONT);  // a paused node must run to see it
  }
  if (wait_until_gone(nodes, Clock::now() + kStopGrace)) return ok_status();
  for (const NodeRecord& node : nodes) {
    if (gmmd_alive(node)) {
      std::cerr << "gmm-host: node " << node.id << " (pid " << node.pid << ") ignored SIGTERM for "
                << kStopGrace.count() << " s; killing it\n";
      ::kill(static_cast<pid_t>(node.pid), SIGKILL);
    }
  }
  if (wait_until_gone(nodes, Clock::now() + kStopGrace)) return ok_status();
  std::string survivors;
  for (const NodeRecord& node : nodes) {
    if (gmmd_alive(node)) survivors += " " + std::to_string(node.id) + " (pid " + std::to_string(node.pid) + ")";
  }
  return make_error(Errc::kBusy, "nodes survived SIGKILL:" + survivors);
}

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

// Sockets (gmmd's and the doorbell server's, only if still sockets), the
// pool file and the record.
Status remove_files(const Cluster& cluster) {
  std::vector<std::string> sockets;
  for (const NodeRecord& node : cluster.nodes) {
    for (const std::string& path : {node.socket, doorbell_socket(cluster, node.id)}) {
      std::error_code error;
      if (fs::is_socket(fs::symlink_status(path, error))) sockets.push_back(path);
    }
  }
  return remove_cluster_files(cluster, sockets);
}

std::string live_nodes(const Cluster& cluster) {
  std::string live;
  for (const NodeRecord& node : cluster.nodes) {
    if (gmmd_alive(node)) {
      live += (live.empty() ? "" : ", ") + std::string("node ") + std::to_string(node.id) + " (pid " +
              std::to_string(node.pid) + ")";
    }
  }
  if (doorbell_server_alive(cluster)) live += (live.empty() ? "" : ", ") + std::string("ivshmem server");
  return live;
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
                                         node.log + ":\n" + file_tail(node.log, kLogTailLines));
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
                  ":\n" + file_tail(node.log, kLogTailLines);
      }
      return make_error(Errc::kIo, "nodes did not answer ping in time:" + report);
    }
    std::this_thread::sleep_for(kPollPeriod);
  }
}

}  // namespace

Result<Cluster> up(const UpOptions& options) {
  if (options.nodes == 0 || options.nodes > layout::kMaxNodes) {
    return make_error(Errc::kInvalidArgument, "--nodes must be 1.." + std::to_string(layout::kMaxNodes));
  }
  if (options.membership.heartbeat_ms == 0 || options.membership.heartbeat_ms > 60'000 ||
      options.membership.miss_threshold < 2) {
    return make_error(Errc::kInvalidArgument, "--heartbeat-ms must be 1..60000 and --miss-threshold at least 2");
  }
  std::error_code error;
  fs::create_directories(options.dir, error);
  if (error) return make_error(Errc::kIo, "cannot create " + options.dir + ": " + error.message());
  std::string dir = fs::canonical(options.dir).string();

  auto recorded = load_cluster(dir);
  if (!recorded) return recorded.error();
  if (*recorded) {
    std::string live = live_nodes(**recorded);
    if (!live.empty()) {
      return make_error(Errc::kExists, "a cluster is already running in " + dir + " (" + live +
                                           "); run `gmm-host down` first");
    }
    std::cerr << "gmm-host: removing the stale cluster recorded in " << dir << "\n";
    Status removed = remove_files(**recorded);
    if (!removed) return removed.error();
  }

  Cluster cluster = new_cluster(Mode::kProc, dir, options);
  cluster.vm.server_log = dir + "/ivshmem-server.log";
  cluster.vm.ivshmem_server = (fs::path(cluster.binaries.gmmd).parent_path() / "gmm-ivshmem-server").string();
  for (std::uint32_t id = 0; id < options.nodes; ++id) {
    NodeRecord node;
    node.id = id;
    node.socket = dir + "/node" + std::to_string(id) + ".sock";
    node.log = dir + "/node" + std::to_string(id) + ".log";
    if (auto address = proto::unix_address(node.socket); !address) {
      return make_error(address.error().code, address.error().message + "; use a shorter --dir");
    }
    cluster.nodes.push_back(node);
  }
  for (const auto& [id, spec] : options.crash_at) {
    if (id >= options.nodes) {
      return make_error(Errc::kInvalidArgument, "--crash-at names node " + std::to_string(id) +
                                                    ", but the cluster has " + std::to_string(options.nodes) +
                                                    " nodes");
    }
    cluster.nodes[id].crash_at = spec;
  }
  for (Status check : {check_binary(cluster.binaries.gmmd, "gmmd"), check_binary(cluster.binaries.gmmctl, "gmmctl"),
                       check_binary(cluster.vm.ivshmem_server, "gmm-ivshmem-server")}) {
    if (!check) return check.error();
  }
  Status pool = create_pool(cluster.pool_path, cluster.pool_size, options.nodes, cluster.membership);
  if (!pool) return pool.error();

  // The doorbells: every gmmd connects to it (--doorbell DIR/nodeK.ivshmem).
  Status started = start_doorbell_server(cluster);
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
    (void)remove_files(cluster);
    return started.error();
  }
  return cluster;
}

Status down(const Cluster& cluster) {
  Status stopped = stop_nodes(cluster.nodes);
  Status server = stop_doorbell_server(cluster);  // after the nodes: a leaving gmmd may still ring
  Status removed = remove_files(cluster);
  if (!stopped) return stopped;
  if (!server) return server;
  return removed;
}

}  // namespace gmm::host::proc
