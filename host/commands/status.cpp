// `gmm-host status`: each node's process and gmmd (mode-specific), its
// membership slot as the pool records it, the directory copies, lost
// memory and the last failure with its detection and recovery times.
#include <cstdio>
#include <iostream>

#include "cluster/faults.hpp"
#include "commands/command_support.hpp"
#include "commands/commands.hpp"
#include "commands/launchers.hpp"
#include "commands/watcher_process.hpp"
#include "pool/pool_view.hpp"
#include "proto/cli_text.hpp"

namespace gmm::host {
namespace {

using nlohmann::json;

std::string process_text(const NodeHealth& node) {
  if (!node.alive) return node.node.left ? "left" : "gone";
  return node.paused ? "paused" : "running";
}

std::string age_text(const std::optional<double>& ms) {
  if (!ms) return "never";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms ago", *ms);
  return text;
}

std::string node_text(std::uint32_t node) { return node == layout::kNoNode ? "none" : "node " + std::to_string(node); }

json node_json(const NodeHealth& node, const std::optional<SlotView>& slot) {
  json entry{{"node", node.node.id},       {"pid", node.node.pid},     {"alive", node.alive},
             {"paused", node.paused},      {"answering", node.answering}, {"left", node.node.left},
             {"socket", node.node.socket}, {"log", node.node.log},     {"detail", node.detail}};
  if (slot) {
    entry["slot"] = node_state_name(slot->state);
    entry["incarnation"] = slot->incarnation;
    entry["heartbeat_age_ms"] = slot->heartbeat_age_ms ? json(*slot->heartbeat_age_ms) : json(nullptr);
    entry["memory_lost"] = slot->memory_lost;
    entry["fenced"] = slot->fenced;
  }
  return entry;
}

struct PoolState {
  MembershipView membership;
  WatcherView watcher;
  std::optional<FailureReport> last_failure;
};

// The watcher: its process (from the record) and its beat (from the pool).
json watcher_json(const Cluster& cluster, bool process_alive, const std::optional<PoolState>& pool) {
  json entry{{"expected", uses_watcher(cluster.detector)}, {"running", process_alive}, {"pid", cluster.watcher.pid},
             {"log", cluster.watcher.log}};
  if (pool) entry["beat_age_ms"] = pool->watcher.beat_age_ms ? json(*pool->watcher.beat_age_ms) : json(nullptr);
  return entry;
}

// One line: what detects failures now.
std::string watcher_text(const Cluster& cluster, bool process_alive) {
  if (!uses_watcher(cluster.detector)) return "failure detection: the nodes' heartbeat (no watcher)";
  if (process_alive)
    return "failure detection: " + std::string(detector_name(cluster.detector)) + " (watcher pid " +
           std::to_string(cluster.watcher.pid) + " running; it fences declared nodes)";
  return "failure detection: the watcher (pid " + std::to_string(cluster.watcher.pid) +
         ") is NOT running: the cluster has fallen back to the nodes' heartbeat, without fencing; see " +
         cluster.watcher.log;
}

Result<PoolState> read_pool_state(const Cluster& cluster) {
  auto mapped = map_pool(cluster.pool_path);
  if (!mapped) return mapped.error();
  PoolState state{read_membership(mapped->pool), read_watcher(mapped->pool), std::nullopt};
  if (auto record = newest_record(mapped->pool, layout::EventKind::kNodeFailed)) {
    auto injections = load_injections(cluster);
    if (!injections) return injections.error();
    state.last_failure =
        failure_report(*record, *injections, state.membership.members, make_launcher(cluster.mode)->host_clock());
  }
  return state;
}

}  // namespace

int command_status(const std::string& dir, bool as_json) {
  auto cluster = recorded_cluster(dir);
  if (!cluster) return fail("status", cluster.error().message);
  std::unique_ptr<Launcher> launcher = make_launcher(cluster->mode);
  std::vector<NodeHealth> nodes;
  for (const NodeRecord& node : cluster->nodes) nodes.push_back(launcher->health(*cluster, node.id));
  auto pool = read_pool_state(*cluster);
  auto slot_of = [&](std::uint32_t node) -> std::optional<SlotView> {
    if (!pool || node >= pool->membership.slots.size()) return std::nullopt;
    return pool->membership.slots[node];
  };

  const bool watcher_up = watcher_alive(*cluster);
  bool all_well = pool.ok() && (watcher_up || !uses_watcher(cluster->detector));
  json node_entries = json::array();
  std::vector<TableRow> rows{{"NODE", "PID", "PROCESS", "GMMD", "SLOT", "INC", "HEARTBEAT"}};
  for (const NodeHealth& node : nodes) {
    all_well = all_well && (node.node.left || (node.alive && node.answering));
    auto slot = slot_of(node.node.id);
    node_entries.push_back(node_json(node, slot));
    rows.push_back({std::to_string(node.node.id), std::to_string(node.node.pid), process_text(node),
                    node.answering ? "answering" : "-", slot ? std::string(node_state_name(slot->state)) + (slot->fenced ? " (fenced)" : "") : "?",
                    slot ? std::to_string(slot->incarnation) : "?", slot ? age_text(slot->heartbeat_age_ms) : "?"});
  }

  if (as_json) {
    json report = cluster_json(*cluster);
    report["nodes"] = node_entries;
    report["healthy"] = all_well;
    report["watcher"] = watcher_json(*cluster, watcher_up, pool ? std::optional<PoolState>(*pool) : std::optional<PoolState>());
    if (pool) {
      const MembershipView& view = pool->membership;
      report["directory"] = {{"primary", view.dir_primary}, {"replica", view.dir_replica}};
      report["members"] = node_list(view.members);
      report["view_epoch"] = view.view_epoch;
      report["lost_partitions"] = view.lost_partitions;
      report["last_failure"] = pool->last_failure ? failure_json(*pool->last_failure) : json(nullptr);
    } else {
      report["pool_error"] = pool.error().message;
    }
    std::cout << report.dump(2) << "\n";
    return all_well ? 0 : 1;
  }

  std::cout << "cluster " << cluster->dir << ": " << cluster_summary(*cluster) << "\n" << format_table(rows);
  std::cout << watcher_text(*cluster, watcher_up) << "\n";
  if (!pool) {
    std::cout << "pool: " << pool.error().message << "\n";
    return 1;
  }
  const MembershipView& view = pool->membership;
  std::string lost;
  for (std::uint32_t node : view.lost_partitions) lost += (lost.empty() ? "node " : ", node ") + std::to_string(node);
  std::cout << "directory: primary on " << node_text(view.dir_primary) << ", replica on " << node_text(view.dir_replica)
            << "; members " << node_list_text(view.members) << " (view " << view.view_epoch << "); lost memory: "
            << (lost.empty() ? "none" : lost) << "\n";
  if (pool->last_failure) std::cout << failure_text(*pool->last_failure) << "\n";
  return all_well ? 0 : 1;
}

}  // namespace gmm::host
