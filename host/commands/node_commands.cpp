// gmm-host's fault and membership commands: crash, resume, restart, leave,
// lose-memory and points. Node processes (or VMs) are hit through the
// mode's launcher (launcher/launcher.hpp); declarations go through the pool.
#include <algorithm>
#include <cstring>
#include <iostream>

#include "cluster/crash_spec.hpp"
#include "cluster/faults.hpp"
#include "commands/command_support.hpp"
#include "commands/commands.hpp"
#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include "gmm/crash.hpp"
#include "gmm/membership.hpp"
#include "pool/pool_view.hpp"
#include "proto/cli_text.hpp"

namespace gmm::host {
namespace {

using layout::EventKind;
using layout::NodeState;
using nlohmann::json;

// What lost memory looks like: no valid magic, no plausible table entry.
constexpr unsigned char kLostPattern = 0xDB;
constexpr std::uint64_t kLostDataBytes = 1 << 20;

std::string node_name(std::uint32_t node) { return "node " + std::to_string(node); }
std::string seconds_text(std::chrono::seconds timeout) { return std::to_string(timeout.count()) + " s"; }

std::uint64_t members_now(const Pool& pool) { return load_acquire(pool.cluster().members); }

// When the host, polling the pool, saw the declaration and the finished
// recovery (its own clock: VM guests' clocks are off by tens of ms, which
// the times the records carry cannot show).
struct HostSeen {
  std::uint64_t declared_ns = 0;
  std::uint64_t recovered_ns = 0;
};

// "host clock: declared 201.4 ms after the crash, recovered 2.1 ms later (pool polled every 2 ms)"
std::string host_seen_text(const HostSeen& seen, std::uint64_t injected_ns) {
  auto ms = [](std::uint64_t later, std::uint64_t earlier) {
    return std::to_string(static_cast<double>(static_cast<std::int64_t>(later - earlier)) / 1e6);
  };
  auto trimmed = [](std::string text) { return text.substr(0, text.find('.') + 2); };
  return "host clock: declared " + trimmed(ms(seen.declared_ns, injected_ns)) + " ms after the crash, recovered " +
         trimmed(ms(seen.recovered_ns, seen.declared_ns)) + " ms later (pool polled every 2 ms)";
}

// Until the failure of (node, incarnation) is declared and recovered by everyone.
Result<FailureReport> wait_recovered(const NodeTarget& target, std::uint32_t incarnation,
                                     std::chrono::seconds timeout, HostSeen* seen = nullptr) {
  std::optional<layout::RecoveryRecord> record;
  bool recovered = poll_until(timeout, [&] {
    record = find_record(target.pool(), EventKind::kNodeFailed, target.node, incarnation);
    if (record && seen != nullptr && seen->declared_ns == 0) seen->declared_ns = realtime_ns();
    const bool complete = record && record_complete(*record, members_now(target.pool()));
    if (complete && seen != nullptr) seen->recovered_ns = realtime_ns();
    return complete;
  });
  if (!recovered) {
    std::string what = record ? " was declared failed but its recovery did not finish" : " was not declared failed";
    return make_error(Errc::kBusy, node_name(target.node) + what + " within " + seconds_text(timeout));
  }
  auto injections = load_injections(target.cluster);
  if (!injections) return injections.error();
  return failure_report(*record, *injections, members_now(target.pool()), target.launcher->host_clock());
}

// `gmm-host crash --how`: which verb of the launcher fails the node. A
// panic's time is the platform's, when it reports one.
Result<std::optional<std::uint64_t>> inject(Launcher& launcher, const Cluster& cluster, std::uint32_t node,
                                            CrashHow how) {
  Status done = ok_status();
  switch (how) {
    case CrashHow::kKill: done = launcher.kill(cluster, node); break;
    case CrashHow::kPause: done = launcher.pause(cluster, node); break;
    case CrashHow::kPanic: return launcher.panic(cluster, node);
  }
  if (!done) return done.error();
  return std::optional<std::uint64_t>();
}

void overwrite_partition(const Pool& pool, std::uint32_t node) {
  const layout::Superblock& superblock = pool.superblock();
  std::byte* partition = pool.at(pool.partition_offset(node));
  std::memset(partition, kLostPattern, superblock.data_offset);
  std::memset(partition + superblock.data_offset, kLostPattern, std::min(superblock.data_size, kLostDataBytes));
}

}  // namespace

int command_crash(const std::string& dir, std::uint32_t node, CrashHow how, bool wait, std::chrono::seconds timeout) {
  auto target = node_target(dir, node);
  if (!target) return fail("crash", target.error().message);
  SlotView before = read_slot(target->pool(), node);
  std::int64_t pid = target->cluster.nodes[node].pid;
  std::uint64_t injected_ns = realtime_ns();
  // A VM panic happens some time after the request: QEMU's GUEST_PANICKED
  // time replaces the request's.
  auto crashed = inject(*target->launcher, target->cluster, node, how);
  if (!crashed) return fail("crash", crashed.error().message);
  if (*crashed) injected_ns = **crashed;
  Status recorded = record_injection(target->cluster, Injection{node, how, injected_ns, before.incarnation, pid});
  if (!recorded) return fail("crash", recorded.error().message);
  const char* done = how == CrashHow::kKill ? "killed" : how == CrashHow::kPause ? "paused" : "panicked";
  std::cout << node_name(node) << ": " << done << " " << target->launcher->node_process() << " pid " << pid << " (incarnation " << before.incarnation << ")\n";
  if (!wait) return 0;
  HostSeen seen;
  auto report = wait_recovered(*target, before.incarnation, timeout, &seen);
  if (!report) return fail("crash", report.error().message);
  std::cout << failure_text(*report) << "\n";
  std::cout << host_seen_text(seen, injected_ns) << "\n";
  return 0;
}

int command_resume(const std::string& dir, std::uint32_t node, std::chrono::seconds timeout) {
  auto target = node_target(dir, node);
  if (!target) return fail("resume", target.error().message);
  SlotView before = read_slot(target->pool(), node);
  Status resumed = target->launcher->resume(target->cluster, node);
  if (!resumed) return fail("resume", resumed.error().message);
  // Declared failed while paused: it rejoins as a new incarnation. Resumed
  // in time: it simply beats on as the same one.
  SlotView now = before;
  bool member = poll_until(timeout, [&] {
    now = read_slot(target->pool(), node);
    if (now.state != NodeState::kMember) return false;
    return now.incarnation > before.incarnation ||
           (before.state == NodeState::kMember && now.incarnation == before.incarnation &&
            now.heartbeat != before.heartbeat);
  });
  if (!member) {
    return fail("resume", node_name(node) + " did not become a member again within " + seconds_text(timeout) +
                              " (slot " + std::string(node_state_name(now.state)) + ", incarnation " +
                              std::to_string(now.incarnation) + ")");
  }
  if (now.incarnation > before.incarnation) {
    std::cout << node_name(node) << " resumed and rejoined as incarnation " << now.incarnation << "\n";
  } else {
    std::cout << node_name(node) << " resumed before it was declared failed (still incarnation " << now.incarnation
              << ")\n";
  }
  return 0;
}

int command_restart(const std::string& dir, std::uint32_t node, const std::string& crash_at,
                    std::chrono::seconds timeout) {
  if (!crash_at.empty()) {
    if (Status valid = check_crash_spec(crash_at); !valid) return fail("restart", valid.error().message, 2);
  }
  auto target = node_target(dir, node);
  if (!target) return fail("restart", target.error().message);
  SlotView before = read_slot(target->pool(), node);
  Status started = target->launcher->start(target->cluster, node, crash_at);
  if (!started) return fail("restart", started.error().message);
  Status saved = save_cluster(target->cluster);
  if (!saved) return fail("restart", saved.error().message);

  std::optional<std::string> exited;
  SlotView now = before;
  bool member = poll_until(timeout, [&] {
    if ((exited = target->launcher->exited(target->cluster, node))) return true;
    now = read_slot(target->pool(), node);
    return now.state == NodeState::kMember && now.incarnation > before.incarnation &&
           target->launcher->health(target->cluster, node).answering;
  });
  if (exited) return fail("restart", *exited);
  if (!member) {
    return fail("restart", node_name(node) + " did not join within " + seconds_text(timeout) + " (slot " +
                               std::string(node_state_name(now.state)) + "); see " + target->cluster.nodes[node].log);
  }
  std::cout << node_name(node) << " restarted: " << target->launcher->node_process() << " pid "
            << target->cluster.nodes[node].pid
            << " joined as incarnation " << now.incarnation << "\n";
  return 0;
}

int command_leave(const std::string& dir, std::uint32_t node, std::chrono::seconds timeout) {
  auto target = node_target(dir, node);
  if (!target) return fail("leave", target.error().message);
  // Only a running node can leave; a dead or paused one would keep its
  // leaving mark (crash recovery removes it instead).
  NodeHealth health = target->launcher->health(target->cluster, node);
  if (!health.alive || health.paused) return fail("leave", node_name(node) + " cannot leave: " + health.detail);
  SlotView before = read_slot(target->pool(), node);
  Status asked = request_leave(target->pool(), node);
  if (!asked) return fail("leave", asked.error().message);
  std::optional<layout::RecoveryRecord> record;
  bool gone = poll_until(timeout + std::chrono::milliseconds(target->cluster.membership.leave_grace_ms), [&] {
    record = find_record(target->pool(), EventKind::kNodeLeaving, node, before.incarnation);
    // Its gmmd exits once it has left; a VM keeps running without it (its
    // OS is outside GMM now) until `restart` boots it to rejoin.
    return record && record_complete(*record, members_now(target->pool())) &&
           read_slot(target->pool(), node).state != NodeState::kMember &&
           (target->launcher->exited(target->cluster, node) || !target->launcher->health(target->cluster, node).answering);
  });
  if (!gone) {
    return fail("leave",
                node_name(node) + " did not leave within " + seconds_text(timeout) + " after its grace period");
  }
  target->cluster.nodes[node].left = true;
  Status saved = save_cluster(target->cluster);
  if (!saved) return fail("leave", saved.error().message);
  std::cout << node_name(node) << " left the cluster (record " << record->sequence << ", done by "
            << node_list_text(record->done & record->survivors) << ")\n";
  return 0;
}

int command_lose_memory(const std::string& dir, std::uint32_t node, std::chrono::seconds timeout) {
  auto target = node_target(dir, node);
  if (!target) return fail("lose-memory", target.error().message);
  SlotView before = read_slot(target->pool(), node);
  // Declared first: from then on nobody reads the partition, so it may go.
  Status declared = declare_memory_lost(target->pool(), node);
  if (!declared) return fail("lose-memory", declared.error().message);
  overwrite_partition(target->pool(), node);
  std::optional<layout::RecoveryRecord> record;
  bool recovered = poll_until(timeout, [&] {
    record = find_record(target->pool(), EventKind::kMemoryLost, node, before.incarnation);
    return record && record->tables_recovered_ns != 0;
  });
  if (!recovered) {
    return fail("lose-memory", "the tables were not recovered from the loss of " + node_name(node) +
                                   "'s memory within " + seconds_text(timeout));
  }
  double ms = static_cast<double>(record->tables_recovered_ns - record->declared_ns) / 1e6;
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", ms);
  std::cout << "memory of " << node_name(node) << " declared lost and overwritten; tables recovered in " << text
            << "\n";
  return 0;
}

int command_points(bool as_json) {
  json points = json::array();
  std::vector<TableRow> rows;
  for (const CrashPointInfo& point : crash_points()) {
    points.push_back({{"name", point.name}, {"description", point.description}});
    rows.push_back({std::string(point.name), std::string(point.description)});
  }
  std::cout << (as_json ? points.dump(2) + "\n" : format_table(rows));
  return 0;
}

}  // namespace gmm::host
