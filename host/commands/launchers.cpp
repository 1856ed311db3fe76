#include "commands/launchers.hpp"

#include <filesystem>
#include <iostream>

#include "commands/watcher_process.hpp"
#include "proc/proc_launcher.hpp"
#include "qemu/qemu_launcher.hpp"

namespace gmm::host {
namespace {

namespace fs = std::filesystem;

// What every backend requires of `up`'s options.
Status check_options(const UpOptions& options) {
  if (options.membership.heartbeat_ms == 0 || options.membership.heartbeat_ms > 60'000 ||
      options.membership.miss_threshold < 2) {
    return make_error(Errc::kInvalidArgument, "--heartbeat-ms must be 1..60000 and --miss-threshold at least 2");
  }
  for (const auto& [id, spec] : options.crash_at) {
    if (id >= options.nodes) {
      return make_error(Errc::kInvalidArgument, "--crash-at names node " + std::to_string(id) +
                                                    ", but the cluster has " + std::to_string(options.nodes) +
                                                    " nodes");
    }
  }
  return ok_status();
}

// DIR, absolute, with no cluster recorded in it. A recorded one is asked,
// through its own mode's launcher, whether anything of it still runs.
Result<std::string> claim_cluster_dir(const std::string& requested) {
  std::error_code error;
  fs::create_directories(requested, error);
  if (error) return make_error(Errc::kIo, "cannot create " + requested + ": " + error.message());
  std::string dir = fs::canonical(requested).string();
  auto recorded = load_cluster(dir);
  if (!recorded) return recorded.error();
  if (!*recorded) return dir;
  std::unique_ptr<Launcher> owner = make_launcher((*recorded)->mode);
  std::string live = owner->live_parts(**recorded);
  if (watcher_alive(**recorded)) live += (live.empty() ? "" : ", ") + std::string("watcher");
  if (!live.empty()) {
    return make_error(Errc::kExists,
                      "a cluster is already running in " + dir + " (" + live + "); run `gmm-host down` first");
  }
  std::cerr << "gmm-host: removing the stale cluster recorded in " << dir << "\n";
  if (Status removed = owner->remove_files(**recorded); !removed) return removed.error();
  return dir;
}

}  // namespace

std::unique_ptr<Launcher> make_launcher(Mode mode) {
  switch (mode) {
    case Mode::kProc: return make_proc_launcher();
    case Mode::kVm: return make_qemu_launcher();
  }
  return nullptr;  // not reached: every Mode has a launcher
}

Result<Cluster> start_cluster(const UpOptions& options) {
  std::unique_ptr<Launcher> launcher = make_launcher(options.mode);
  if (Status valid = launcher->check(options); !valid) return valid.error();
  if (Status valid = check_options(options); !valid) return valid.error();
  auto dir = claim_cluster_dir(options.dir);
  if (!dir) return dir.error();
  auto cluster = launcher->up(options, *dir);
  if (!cluster) return cluster.error();
  Status watching = start_watcher(*cluster, options.detector);
  if (watching) watching = save_cluster(*cluster);
  if (!watching) {
    (void)stop_watcher(*cluster);
    (void)launcher->down(*cluster);
    return make_error(watching.error().code, "detector " + std::string(detector_name(options.detector)) + ": " +
                                                 watching.error().message);
  }
  return cluster;
}

}  // namespace gmm::host
