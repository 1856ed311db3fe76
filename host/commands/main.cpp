// gmm-host: the testbed's machine room. Starts and stops clusters of GMM
// nodes, runs commands on a node, injects faults, checks the pool.
//
//   gmm-host [--dir DIR] up --mode proc|vm --nodes N --pool-size SIZE [--accel auto|kvm|tcg]
//                           [--heartbeat-ms MS] [--miss-threshold N] [--leave-grace-ms MS]
//                           [--crash-at NODE=POINT[:N]]... [--detector host|heartbeat|both]
//   gmm-host [--dir DIR] status [--json]
//   gmm-host [--dir DIR] watcher        (the host watcher; `up` starts it)
//   gmm-host [--dir DIR] exec NODE -- CMD...
//   gmm-host [--dir DIR] crash NODE --how kill|pause|panic [--wait]
//   gmm-host [--dir DIR] resume NODE | restart NODE [--crash-at POINT[:N]]
//   gmm-host [--dir DIR] leave NODE | lose-memory NODE
//   gmm-host [--dir DIR] fsck [--json] [--pool PATH]
//   gmm-host points [--json]
//   gmm-host [--dir DIR] console NODE [--batch] [--timeout SEC]
//   gmm-host [--dir DIR] down
//
// DIR defaults to $GMM_CLUSTER_DIR, else /tmp/gmm-cluster-$USER.
// docs/cli.md describes every command with examples.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cluster/crash_spec.hpp"
#include "commands/commands.hpp"
#include "proto/cli_text.hpp"
#include "scenario/scenario_command.hpp"

namespace {

using namespace gmm::host;

struct NodeCommand {
  CLI::App* app = nullptr;
  std::uint32_t node = 0;
  int timeout_s = 30;
};

// A subcommand acting on one node and waiting up to --timeout seconds.
NodeCommand* node_command(CLI::App& app, std::vector<std::unique_ptr<NodeCommand>>& commands, const char* name,
                          const char* help) {
  commands.push_back(std::make_unique<NodeCommand>());
  NodeCommand* command = commands.back().get();
  command->app = app.add_subcommand(name, help);
  command->app->add_option("node", command->node, "node id")->required();
  command->app->add_option("--timeout", command->timeout_s, "seconds to wait for the cluster to react")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return command;
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "gmm-host: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gmm-host: start, inspect, break and stop GMM testbed clusters"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string dir = default_cluster_dir();
  app.add_option("--dir", dir, "cluster directory (default: $GMM_CLUSTER_DIR or /tmp/gmm-cluster-$USER)");

  UpOptions up_options;
  up_options.binaries = sibling_binaries();
  std::string mode = "proc";
  std::string pool_size;
  int ready_timeout_s = 60;
  std::vector<std::string> up_crash_at;
  CLI::App* up = app.add_subcommand("up", "start a cluster and wait until every node answers");
  up->add_option("--mode", mode, "proc (gmmd processes on this host) or vm (one QEMU VM per node)")->required();
  up->add_option("--accel", up_options.accel, "vm mode: auto, kvm or tcg")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}))
      ->capture_default_str();
  up->add_option("--nodes", up_options.nodes, "number of nodes")->required();
  up->add_option("--pool-size", pool_size, "pool bytes, e.g. 256M")->required();
  up->add_option("--pool", up_options.pool_path, "pool file (default: under /dev/shm, named after DIR)");
  up->add_option("--timeout", ready_timeout_s, "seconds to wait for the nodes")->check(CLI::PositiveNumber);
  up->add_option("--heartbeat-ms", up_options.membership.heartbeat_ms, "membership heartbeat period")
      ->capture_default_str();
  CLI::Option* miss_threshold =
      up->add_option("--miss-threshold", up_options.membership.miss_threshold,
                     "periods without a beat before a node is declared failed (default " +
                         std::to_string(Membership::kMissThresholdWithWatcher) + " with the watcher, " +
                         std::to_string(Membership::kMissThresholdHeartbeatOnly) + " with --detector heartbeat)");
  up->add_option("--leave-grace-ms", up_options.membership.leave_grace_ms,
                 "time applications get on a planned leave before their shares are revoked")
      ->capture_default_str();
  std::string detector = "both";
  up->add_option("--detector", detector,
                 "who detects failures: host (the watcher, which also fences), heartbeat (the nodes' ring), or both")
      ->check(CLI::IsMember({"host", "heartbeat", "both"}))
      ->capture_default_str();
  up->add_option("--crash-at", up_crash_at, "NODE=POINT[:N]: that node's gmmd dies at crash point POINT (repeatable)");
  up->add_option("--gmmd", up_options.binaries.gmmd, "gmmd binary (default: next to gmm-host)");
  up->add_option("--gmmctl", up_options.binaries.gmmctl, "gmmctl binary (default: next to gmm-host)");

  CLI::App* down = app.add_subcommand("down", "stop the cluster and remove its pool, sockets and record");
  CLI::App* watcher = app.add_subcommand(
      "watcher", "the host watcher in the foreground: failure notices and fences (`up` starts it)");

  bool json = false;
  CLI::App* status = app.add_subcommand("status", "show each node's process, membership and the last failure");
  status->add_flag("--json", json, "print JSON");

  std::uint32_t exec_node = 0;
  std::vector<std::string> exec_argv;
  CLI::App* exec = app.add_subcommand("exec", "run CMD with GMM_SOCKET etc. set for NODE");
  exec->add_option("node", exec_node, "node id")->required();
  exec->add_option("command", exec_argv, "command and arguments (after --)")->required();

  std::vector<std::unique_ptr<NodeCommand>> node_commands;
  std::string how;
  bool crash_wait = false;
  NodeCommand* crash = node_command(app, node_commands, "crash", "kill or pause a node (fault injection)");
  crash->app->add_option("--how", how, "kill (the node dies), pause (it stops; see resume) or panic (vm: kernel panic)")
      ->required()
      ->check(CLI::IsMember({"kill", "pause", "panic"}));
  crash->app->add_flag("--wait", crash_wait, "wait until the node is declared failed and recovered");
  NodeCommand* resume = node_command(app, node_commands, "resume", "continue a paused node; wait until it is a member");
  std::string restart_crash_at;
  NodeCommand* restart =
      node_command(app, node_commands, "restart", "start a crashed node again; wait until it joined");
  restart->app->add_option("--crash-at", restart_crash_at, "POINT[:N]: the new gmmd dies at this crash point");
  NodeCommand* leave = node_command(app, node_commands, "leave", "planned removal of a node; wait until it has left");
  NodeCommand* lose_memory =
      node_command(app, node_commands, "lose-memory", "declare a node's memory lost and overwrite it");

  bool console_batch = false;
  NodeCommand* console =
      node_command(app, node_commands, "console", "VM mode: a shell on the node's console (Ctrl-] detaches)");
  console->app->add_flag("--batch", console_batch, "run stdin as a script in that shell, print its output");

  CLI::App* points = app.add_subcommand("points", "list the crash points (name and description)");
  points->add_flag("--json", json, "print JSON");

  std::string scenario_file, scenario_report, scenario_junit, scenario_mode;
  CLI::App* scenario = app.add_subcommand("scenario", "run a scenario file (YAML) on a fresh cluster in DIR");
  scenario->add_option("file", scenario_file, "the scenario")->required();
  scenario->add_option("--report", scenario_report, "JSON report (default: DIR/report.json)");
  scenario->add_option("--junit", scenario_junit, "JUnit XML (default: DIR/junit.xml)");
  scenario->add_option("--mode", scenario_mode, "override the scenario's cluster mode (proc or vm)");

  std::optional<std::string> fsck_pool;
  CLI::App* fsck = app.add_subcommand("fsck", "check the pool's invariants; exit 1 on violations");
  fsck->add_flag("--json", json, "print JSON");
  fsck->add_option("--pool", fsck_pool, "pool file (default: the cluster's)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "gmm-host: %s (see gmm-host --help)\n", e.what());
    return 2;
  }

  auto seconds = [](const NodeCommand* command) { return std::chrono::seconds(command->timeout_s); };
  if (*up) {
    auto parsed_mode = parse_mode(mode);
    if (!parsed_mode) return usage_error("up: --mode " + mode + " is not supported (yet); use --mode proc or vm");
    auto size = gmm::parse_size(pool_size);
    if (!size) return usage_error("up: invalid --pool-size \"" + pool_size + "\" (e.g. 256M)");
    for (const std::string& text : up_crash_at) {
      auto spec = parse_node_crash_spec(text);
      if (!spec) return usage_error("up: " + spec.error().message);
      up_options.crash_at.push_back(*spec);
    }
    up_options.mode = *parsed_mode;
    up_options.detector = *parse_detector(detector);
    if (miss_threshold->count() == 0 && uses_watcher(up_options.detector))
      up_options.membership.miss_threshold = Membership::kMissThresholdWithWatcher;
    up_options.pool_size = *size;
    up_options.dir = dir;
    up_options.ready_timeout = std::chrono::seconds(ready_timeout_s);
    return command_up(up_options);
  }
  if (*down) return command_down(dir);
  if (*watcher) return command_watcher(dir);
  if (*status) return command_status(dir, json);
  if (*exec) return command_exec(dir, exec_node, exec_argv);
  if (*crash->app) {
    return command_crash(dir, crash->node, *parse_crash_how(how), crash_wait, seconds(crash));
  }
  if (*resume->app) return command_resume(dir, resume->node, seconds(resume));
  if (*restart->app) return command_restart(dir, restart->node, restart_crash_at, seconds(restart));
  if (*leave->app) return command_leave(dir, leave->node, seconds(leave));
  if (*lose_memory->app) return command_lose_memory(dir, lose_memory->node, seconds(lose_memory));
  if (*points) return command_points(json);
  if (*console->app) return command_console(dir, console->node, console_batch, seconds(console));
  if (*scenario) return command_scenario(dir, scenario_file, scenario_mode, scenario_report, scenario_junit);
  return command_fsck(dir, fsck_pool, json);
}
