// gmm-host: the testbed's machine room. Starts and stops clusters of GMM
// nodes, runs commands on a node, checks the pool.
//
//   gmm-host [--dir DIR] up --mode proc --nodes N --pool-size SIZE [--heartbeat-ms MS --miss-threshold N]
//   gmm-host [--dir DIR] status [--json]
//   gmm-host [--dir DIR] exec NODE -- CMD...
//   gmm-host [--dir DIR] fsck [--json] [--pool PATH]
//   gmm-host [--dir DIR] down
//
// DIR defaults to $GMM_CLUSTER_DIR, else /tmp/gmm-cluster-$USER.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "proto/cli_text.hpp"

int main(int argc, char** argv) {
  using namespace gmm::host;
  CLI::App app{"gmm-host: start, inspect and stop GMM testbed clusters"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string dir = default_cluster_dir();
  app.add_option("--dir", dir, "cluster directory (default: $GMM_CLUSTER_DIR or /tmp/gmm-cluster-$USER)");

  UpOptions up_options;
  up_options.binaries = sibling_binaries();
  std::string mode = "proc";
  std::string pool_size;
  int ready_timeout_s = 60;
  CLI::App* up = app.add_subcommand("up", "start a cluster and wait until every node answers");
  up->add_option("--mode", mode, "proc (gmmd processes on this host)")->required();
  up->add_option("--nodes", up_options.nodes, "number of nodes")->required();
  up->add_option("--pool-size", pool_size, "pool bytes, e.g. 256M")->required();
  up->add_option("--pool", up_options.pool_path, "pool file (default: under /dev/shm, named after DIR)");
  up->add_option("--timeout", ready_timeout_s, "seconds to wait for the nodes")->check(CLI::PositiveNumber);
  up->add_option("--heartbeat-ms", up_options.membership.heartbeat_ms, "membership heartbeat period")
      ->capture_default_str();
  up->add_option("--miss-threshold", up_options.membership.miss_threshold,
                 "periods without a beat before a node is declared failed")
      ->capture_default_str();
  up->add_option("--gmmd", up_options.binaries.gmmd, "gmmd binary (default: next to gmm-host)");
  up->add_option("--gmmctl", up_options.binaries.gmmctl, "gmmctl binary (default: next to gmm-host)");

  CLI::App* down = app.add_subcommand("down", "stop the cluster and remove its pool, sockets and record");

  bool json = false;
  CLI::App* status = app.add_subcommand("status", "show each node's process and socket");
  status->add_flag("--json", json, "print JSON");

  std::uint32_t exec_node = 0;
  std::vector<std::string> exec_argv;
  CLI::App* exec = app.add_subcommand("exec", "run CMD with GMM_SOCKET etc. set for NODE");
  exec->add_option("node", exec_node, "node id")->required();
  exec->add_option("command", exec_argv, "command and arguments (after --)")->required();

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

  if (*up) {
    auto parsed_mode = parse_mode(mode);
    if (!parsed_mode) {
      std::fprintf(stderr, "gmm-host: up: --mode %s is not supported (yet); use --mode proc\n", mode.c_str());
      return 2;
    }
    auto size = gmm::parse_size(pool_size);
    if (!size) {
      std::fprintf(stderr, "gmm-host: up: invalid --pool-size \"%s\" (e.g. 256M)\n", pool_size.c_str());
      return 2;
    }
    up_options.mode = *parsed_mode;
    up_options.pool_size = *size;
    up_options.dir = dir;
    up_options.ready_timeout = std::chrono::seconds(ready_timeout_s);
    return command_up(up_options);
  }
  if (*down) return command_down(dir);
  if (*status) return command_status(dir, json);
  if (*exec) return command_exec(dir, exec_node, exec_argv);
  return command_fsck(dir, fsck_pool, json);
}
