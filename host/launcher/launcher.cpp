#include "launcher/launcher.hpp"

#include <filesystem>

#include "gmm/clock.hpp"
#include "launcher/doorbell_server.hpp"

namespace gmm::host {

Status Launcher::down(const Cluster& cluster) {
  std::vector<std::uint32_t> every_node;
  for (const NodeRecord& node : cluster.nodes) every_node.push_back(node.id);
  Status stopped = stop(cluster, every_node);
  Status server = stop_doorbell_server(cluster);  // after the nodes: a leaving gmmd may still ring
  Status removed = remove_files(cluster);
  if (!stopped) return stopped;
  if (!server) return server;
  return removed;
}

Status Launcher::remove_files(const Cluster& cluster) const {
  std::vector<std::string> sockets = node_sockets(cluster);
  for (const NodeRecord& node : cluster.nodes) sockets.push_back(doorbell_socket(cluster, node.id));
  sockets.push_back(watcher_doorbell_socket(cluster));
  std::string failures;
  auto remove = [&](const std::string& path) {
    std::error_code error;
    std::filesystem::remove(path, error);
    if (error) failures += " " + path + " (" + error.message() + ")";
  };
  for (const std::string& path : sockets) {
    std::error_code error;
    if (std::filesystem::is_socket(std::filesystem::symlink_status(path, error))) remove(path);
  }
  remove(cluster.pool_path);
  remove(cluster.faults_path());
  remove(cluster.state_path());
  if (!failures.empty()) return make_error(Errc::kIo, "could not remove" + failures);
  return ok_status();
}

std::string Launcher::live_parts(const Cluster& cluster) const {
  std::string live;
  auto add = [&live](const std::string& part) { live += (live.empty() ? "" : ", ") + part; };
  for (const NodeRecord& node : cluster.nodes) {
    if (running(cluster, node.id)) {
      add("node " + std::to_string(node.id) + " (" + std::string(node_process()) + " pid " + std::to_string(node.pid) +
          ")");
    }
  }
  if (doorbell_server_alive(cluster)) add("ivshmem server");
  return live;
}

std::string Launcher::who(const NodeRecord& node) const {
  return "node " + std::to_string(node.id) + "'s " + std::string(node_process()) + " (pid " + std::to_string(node.pid) +
         ")";
}

Status Launcher::kill_process(const Cluster& cluster, std::uint32_t node, std::chrono::milliseconds timeout) const {
  auto process = open_process(cluster, node);
  if (!process) return process.error();
  if (!*process) return make_error(Errc::kNotFound, who(cluster.nodes.at(node)) + " is not running");
  return kill_and_wait(**process, who(cluster.nodes.at(node)), timeout);
}

Status Launcher::fence_process(const Cluster& cluster, std::uint32_t node, std::chrono::milliseconds timeout) const {
  auto process = open_process(cluster, node);
  if (!process) return process.error();
  if (!*process) return ok_status();  // gone already
  return kill_and_wait(**process, who(cluster.nodes.at(node)), timeout);
}

Result<LivenessStream> Launcher::watch_exits(const Cluster& cluster) {
  auto stream = LivenessStream::create();
  if (!stream) return stream.error();
  for (const NodeRecord& node : cluster.nodes) {
    if (Status added = Launcher::watch_node(cluster, node.id, *stream); !added) return added.error();
  }
  return stream;
}

Status Launcher::watch_node(const Cluster& cluster, std::uint32_t id, LivenessStream& stream) {
  const NodeRecord& node = cluster.nodes.at(id);
  auto process = open_process(cluster, id);
  if (!process) return process.error();
  if (!*process) {
    stream.report(NodeEvent{id, NodeEventKind::kExited, realtime_ns(), who(node) + " was not running when the watch began"});
    return ok_status();
  }
  return stream.add(std::make_unique<ProcessExitSource>(id, std::move(**process), std::string(node_process())));
}

Status Launcher::fence_clients(const Cluster&, std::uint32_t) { return ok_status(); }

Error unsupported(const Launcher& launcher, std::string_view verb, std::string_view why) {
  return make_error(Errc::kInvalidArgument,
                    "the " + std::string(launcher.name()) + " backend cannot " + std::string(verb) + ": " + std::string(why));
}

}  // namespace gmm::host
