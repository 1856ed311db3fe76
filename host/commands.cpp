#include "commands.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "fsck.hpp"
#include "proto/cli_text.hpp"

namespace gmm::host {
namespace {

int fail(const char* command, const std::string& message, int status = 1) {
  std::cerr << "gmm-host: " << command << ": " << message << "\n";
  return status;
}

// The cluster recorded in `dir`; an error message when there is none.
Result<Cluster> recorded_cluster(const std::string& dir) {
  auto loaded = load_cluster(dir);
  if (!loaded) return loaded.error();
  if (!*loaded) return make_error(Errc::kNotFound, "no cluster recorded in " + dir + " (start one with `gmm-host up`)");
  return std::move(**loaded);
}

std::string cluster_summary(const Cluster& cluster) {
  return std::string(mode_name(cluster.mode)) + " mode, " + std::to_string(cluster.nodes.size()) + " nodes, pool " +
         cluster.pool_path + " (" + format_size(cluster.pool_size) + "), heartbeat " +
         std::to_string(cluster.membership.heartbeat_ms) + " ms x " + std::to_string(cluster.membership.miss_threshold);
}

}  // namespace

int command_up(const UpOptions& options) {
  auto cluster = up(options);
  if (!cluster) return fail("up", cluster.error().message);
  std::cout << "cluster up in " << cluster->dir << ": " << cluster_summary(*cluster) << "\n";
  return 0;
}

int command_down(const std::string& dir) {
  auto loaded = load_cluster(dir);
  if (!loaded) return fail("down", loaded.error().message);
  if (!*loaded) {
    std::cout << "no cluster recorded in " << dir << "; nothing to stop\n";
    return 0;
  }
  Status stopped = down(**loaded);
  if (!stopped) return fail("down", stopped.error().message);
  std::cout << "cluster in " << (*loaded)->dir << " is down\n";
  return 0;
}

int command_status(const std::string& dir, bool json) {
  auto cluster = recorded_cluster(dir);
  if (!cluster) return fail("status", cluster.error().message);
  std::vector<NodeHealth> nodes = health(*cluster);
  bool all_well = true;
  nlohmann::json node_list = nlohmann::json::array();
  std::vector<TableRow> rows{{"NODE", "PID", "PROCESS", "SOCKET"}};
  for (const NodeHealth& node : nodes) {
    all_well = all_well && node.alive && node.answering;
    node_list.push_back({{"node", node.node.id}, {"pid", node.node.pid}, {"alive", node.alive},
                         {"answering", node.answering}, {"socket", node.node.socket}, {"log", node.node.log},
                         {"detail", node.detail}});
    rows.push_back({std::to_string(node.node.id), std::to_string(node.node.pid), node.alive ? "running" : "gone",
                    node.answering ? "answering" : "not answering: " + node.detail});
  }
  if (json) {
    nlohmann::json report = cluster_json(*cluster);
    report["nodes"] = node_list;
    report["healthy"] = all_well;
    std::cout << report.dump(2) << "\n";
  } else {
    std::cout << "cluster " << cluster->dir << ": " << cluster_summary(*cluster) << "\n" << format_table(rows);
  }
  return all_well ? 0 : 1;
}

int command_exec(const std::string& dir, std::uint32_t node, const std::vector<std::string>& argv) {
  auto cluster = recorded_cluster(dir);
  if (!cluster) return fail("exec", cluster.error().message);
  if (node >= cluster->nodes.size()) {
    return fail("exec", "no node " + std::to_string(node) + " (the cluster has " +
                            std::to_string(cluster->nodes.size()) + ")");
  }
  if (argv.empty()) return fail("exec", "no command given (gmm-host exec NODE -- CMD...)");
  ::setenv("GMM_SOCKET", cluster->nodes[node].socket.c_str(), 1);
  ::setenv("GMM_NODE", std::to_string(node).c_str(), 1);
  ::setenv("GMM_POOL", cluster->pool_path.c_str(), 1);
  ::setenv("GMM_CLUSTER_DIR", cluster->dir.c_str(), 1);

  std::vector<std::string> args = argv;
  if (args[0] == "gmmctl") {
    // The gmmctl built with this gmm-host, else the one the cluster recorded.
    std::string sibling = sibling_binaries().gmmctl;
    args[0] = ::access(sibling.c_str(), X_OK) == 0 ? sibling : cluster->binaries.gmmctl;
  }
  std::vector<char*> c_args;
  for (std::string& arg : args) c_args.push_back(arg.data());
  c_args.push_back(nullptr);
  ::execvp(c_args[0], c_args.data());
  return fail("exec", "cannot run " + args[0] + ": " + std::strerror(errno), 127);
}

int command_fsck(const std::string& dir, const std::optional<std::string>& pool, bool json) {
  std::string pool_path;
  if (pool) {
    pool_path = *pool;
  } else {
    auto cluster = recorded_cluster(dir);
    if (!cluster) return fail("fsck", cluster.error().message + "; or pass --pool PATH", 2);
    pool_path = cluster->pool_path;
  }
  auto report = check_pool_file(pool_path);
  if (!report) {
    if (json) {
      std::cout << nlohmann::json{{"pool", pool_path}, {"error", errc_name(report.error().code)},
                                  {"message", report.error().message}}
                       .dump(2)
                << "\n";
    }
    return fail("fsck", report.error().message, 2);
  }
  std::cout << (json ? check_report_json(pool_path, *report).dump(2) + "\n" : check_report_text(pool_path, *report));
  return report->clean() ? 0 : 1;
}

}  // namespace gmm::host
