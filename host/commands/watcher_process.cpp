#include "commands/watcher_process.hpp"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "gmm/atomic.hpp"
#include "launcher/backend_support.hpp"
#include "pool/pool_view.hpp"
#include "vm/process.hpp"

namespace gmm::host {
namespace {

using namespace std::chrono_literals;

// The watcher's command line ends in "watcher" (see start_watcher).
const std::string kWatcherArg("\0watcher\0", 9);

std::uint32_t detector_bits(Detector detector) {
  switch (detector) {
    case Detector::kHeartbeat: return layout::kDetectHeartbeat;
    case Detector::kHost: return layout::kDetectHost;
    case Detector::kBoth: return layout::kDetectHeartbeat | layout::kDetectHost;
  }
  return layout::kDetectHeartbeat;
}

}  // namespace

bool watcher_alive(const Cluster& cluster) { return vm::process_alive(cluster.watcher.pid, kWatcherArg); }

Status start_watcher(Cluster& cluster, Detector detector) {
  cluster.detector = detector;
  cluster.watcher = WatcherRecord{};
  auto mapped = map_pool(cluster.pool_path);
  if (!mapped) return mapped.error();
  store_release(mapped->pool.cluster().detectors, detector_bits(detector));
  if (!uses_watcher(detector)) return ok_status();

  cluster.watcher.log = cluster.watcher_log_path();
  if (Status saved = save_cluster(cluster); !saved) return saved;  // the watcher reads the record
  std::error_code error;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", error).string();
  if (error) return make_error(Errc::kIo, "cannot find gmm-host itself: " + error.message());
  {
    std::ofstream truncate(cluster.watcher.log, std::ios::trunc);
  }
  vm::SpawnOptions spawn;
  spawn.output = cluster.watcher.log;
  spawn.new_session = true;
  auto pid = vm::spawn_process({self, "--dir", cluster.dir, "watcher"}, spawn);
  if (!pid) return pid.error();
  cluster.watcher.pid = *pid;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    std::ifstream log(cluster.watcher.log);
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (text.find("watching ") != std::string::npos && load_acquire(mapped->pool.cluster().watcher_beat_ns) != 0)
      return ok_status();
    if (auto status = vm::wait_process(*pid, 0ms); status) {
      return make_error(Errc::kIo, "the watcher exited (status " + std::to_string(*status) + "): " +
                                       file_tail(cluster.watcher.log));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(static_cast<pid_t>(*pid), SIGKILL);
      return make_error(Errc::kBusy, "the watcher did not start watching in 10 s: " + file_tail(cluster.watcher.log));
    }
    std::this_thread::sleep_for(5ms);
  }
}

Status stop_watcher(const Cluster& cluster) {
  if (vm::stop_daemon(cluster.watcher.pid, kWatcherArg, 5s)) return ok_status();
  return make_error(Errc::kBusy, "the watcher (pid " + std::to_string(cluster.watcher.pid) + ") survived SIGKILL");
}

}  // namespace gmm::host
