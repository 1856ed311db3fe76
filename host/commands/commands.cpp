#include "commands/commands.hpp"

#include <signal.h>

#include <atomic>
#include <iostream>

#include "commands/command_support.hpp"
#include "commands/launchers.hpp"
#include "commands/watcher_process.hpp"
#include "pool/fsck.hpp"
#include "watcher/watcher.hpp"
#include "proto/cli_text.hpp"

namespace gmm::host {

int fail(const char* command, const std::string& message, int status) {
  std::cerr << "gmm-host: " << command << ": " << message << "\n";
  return status;
}

Result<Cluster> recorded_cluster(const std::string& dir) {
  auto loaded = load_cluster(dir);
  if (!loaded) return loaded.error();
  if (!*loaded) return make_error(Errc::kNotFound, "no cluster recorded in " + dir + " (start one with `gmm-host up`)");
  return std::move(**loaded);
}

Result<NodeTarget> node_target(const std::string& dir, std::uint32_t node) {
  auto cluster = recorded_cluster(dir);
  if (!cluster) return cluster.error();
  if (node >= cluster->nodes.size()) {
    return make_error(Errc::kInvalidArgument, "no node " + std::to_string(node) + " (the cluster has " +
                                                  std::to_string(cluster->nodes.size()) + ")");
  }
  auto mapped = map_pool(cluster->pool_path);
  if (!mapped) return mapped.error();
  std::unique_ptr<Launcher> launcher = make_launcher(cluster->mode);
  return NodeTarget{std::move(*cluster), std::move(launcher), std::move(*mapped), node};
}

std::string cluster_summary(const Cluster& cluster) {
  return std::string(mode_name(cluster.mode)) + " mode, " + std::to_string(cluster.nodes.size()) + " nodes, pool " +
         cluster.pool_path + " (" + format_size(cluster.pool_size) + "), heartbeat " +
         std::to_string(cluster.membership.heartbeat_ms) + " ms x " + std::to_string(cluster.membership.miss_threshold) +
         ", detector " + std::string(detector_name(cluster.detector));
}

int command_up(const UpOptions& options) {
  auto cluster = start_cluster(options);
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
  // The watcher first: it would fence nodes that leave as they stop.
  Status watcher = stop_watcher(**loaded);
  Status stopped = make_launcher((*loaded)->mode)->down(**loaded);
  if (!watcher) return fail("down", watcher.error().message);
  if (!stopped) return fail("down", stopped.error().message);
  std::cout << "cluster in " << (*loaded)->dir << " is down\n";
  return 0;
}

int command_watcher(const std::string& dir) {
  auto cluster = recorded_cluster(dir);
  if (!cluster) return fail("watcher", cluster.error().message);
  static std::atomic<bool> stop{false};
  struct sigaction action {};
  action.sa_handler = [](int) { stop.store(true); };
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  std::unique_ptr<Launcher> launcher = make_launcher(cluster->mode);
  Status watched = run_watcher(*cluster, *launcher, stop, std::cout);
  if (!watched) return fail("watcher", watched.error().message);
  return 0;
}

int command_exec(const std::string& dir, std::uint32_t node, const std::vector<std::string>& argv) {
  auto cluster = recorded_cluster(dir);
  if (!cluster) return fail("exec", cluster.error().message);
  if (node >= cluster->nodes.size()) {
    return fail("exec", "no node " + std::to_string(node) + " (the cluster has " +
                            std::to_string(cluster->nodes.size()) + ")");
  }
  if (argv.empty()) return fail("exec", "no command given (gmm-host exec NODE -- CMD...)");
  auto outcome = make_launcher(cluster->mode)->exec(*cluster, node, argv);
  if (!outcome) return fail("exec", outcome.error().message);
  if (!outcome->note.empty()) std::cerr << "gmm-host: exec: " << outcome->note << "\n";
  return outcome->status;
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
