// A testbed cluster as gmm-host records it in DIR/cluster.json. The mode
// (process or VM) is a property of the recorded cluster: every command
// after `up` reads it from the record and acts through that mode's launcher
// (launcher/launcher.hpp). This folder knows no launcher.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/result.hpp"

namespace gmm::host {

enum class Mode { kProc, kVm };  // kProc: gmmd processes (proc/); kVm: one QEMU VM per node (qemu/)
std::string_view mode_name(Mode mode);
std::optional<Mode> parse_mode(std::string_view name);

struct NodeRecord {
  std::uint32_t id = 0;
  std::string socket;    // gmmd's unix socket
  std::string log;       // gmmd's stdout+stderr
  std::int64_t pid = 0;  // process mode: the gmmd process
  std::string crash_at;  // the crash point gmmd was started with (--crash-at), if any
  bool left = false;     // left the cluster (`gmm-host leave`): not expected to run
  // VM mode (pid is then the node's QEMU; socket is gmmd's inside the guest,
  // log the guest's serial console):
  std::string qmp;       // QMP socket of the node's QEMU
  std::string ctl;       // the agent's control channel (QEMU's virtio-serial socket)
  std::string qemu_log;  // QEMU's own stdout/stderr
};

// The ivshmem doorbell server (both modes, launcher/doorbell_server.hpp) and, VM mode
// only, how the VMs were started.
struct VmRecord {
  std::int64_t server_pid = 0;  // gmm-ivshmem-server (0: none, e.g. an older process-mode record)
  std::string server_log;
  std::string accel;            // tcg or kvm; empty: not VMs
  std::string image_dir;        // vmlinux, initramfs.cpio.gz
  std::string share_dir;        // 9p share (the build dir)
  std::string ivshmem_server;   // the gmm-ivshmem-server binary
};

struct Binaries {
  std::string gmmd;
  std::string gmmctl;
};

// Failure detection settings written into the pool at format time: a node
// is declared failed about heartbeat_ms * miss_threshold after its last beat
// (the guest kernel or gmmd's liveness thread beats, so a busy node still
// beats while its OS runs). When the heartbeat is the only detector
// (`--detector heartbeat`) the default threshold is 25 periods: about 0.5 s.
// With the host watcher (the default), deaths and panics are declared by the
// watcher within milliseconds and the heartbeat only has to catch hangs and
// pauses, so its default is lenient: 100 periods, about 2 s. Under TCG on
// the 2-core test machine a whole guest was seen not to run for 450-990 ms
// when every guest was busy (docs/benchmarks.md, "Guest load"): 500 ms
// expels healthy guests there, and the watcher fences (kills) what is
// expelled. leave_grace_ms: what applications get on a planned removal
// before the system revokes their shares.
struct Membership {
  static constexpr std::uint32_t kMissThresholdHeartbeatOnly = 25;
  static constexpr std::uint32_t kMissThresholdWithWatcher = 100;
  std::uint32_t heartbeat_ms = 20;
  std::uint32_t miss_threshold = kMissThresholdHeartbeatOnly;
  std::uint32_t leave_grace_ms = 2000;
};

// Who detects failures (`gmm-host up --detector`): the nodes' heartbeat
// ring, the host watcher (its own process, started by `up`: it sees a
// node's process die or its guest panic and fences declared nodes), or
// both. docs/design.md, "The host watcher".
enum class Detector { kHeartbeat, kHost, kBoth };
std::string_view detector_name(Detector detector);  // heartbeat, host, both
std::optional<Detector> parse_detector(std::string_view name);
inline bool uses_watcher(Detector detector) { return detector != Detector::kHeartbeat; }

// The watcher process (`gmm-host watcher`), when the detector uses one.
struct WatcherRecord {
  std::int64_t pid = 0;  // 0: none started
  std::string log;
};

struct Cluster {
  Mode mode = Mode::kProc;
  Detector detector = Detector::kHeartbeat;  // records older than the watcher: heartbeat
  WatcherRecord watcher;
  std::string dir;  // absolute
  std::string pool_path;
  std::uint64_t pool_size = 0;
  Membership membership;
  Binaries binaries;
  std::int64_t started_unix = 0;
  std::vector<NodeRecord> nodes;
  VmRecord vm;  // the doorbell server; the rest VM mode only

  std::string state_path() const { return dir + "/cluster.json"; }
  std::string faults_path() const { return dir + "/faults.json"; }  // see cluster/faults.hpp
  std::string watcher_log_path() const { return dir + "/watcher.log"; }
};

nlohmann::json cluster_json(const Cluster& cluster);
// Errors: kInvalidArgument naming what is wrong in the record.
Result<Cluster> cluster_from_json(const nlohmann::json& record);

// nullopt when DIR has no cluster.json. Errors: unreadable or corrupt record.
Result<std::optional<Cluster>> load_cluster(const std::string& dir);
Status save_cluster(const Cluster& cluster);  // atomically (write + rename)

// $GMM_CLUSTER_DIR, else /tmp/gmm-cluster-<user>.
std::string default_cluster_dir();
// Under /dev/shm, named after DIR so clusters in different DIRs coexist.
std::string default_pool_path(const std::string& dir);
// gmmd and gmmctl built next to the running gmm-host.
Binaries sibling_binaries();

// How `gmm-host crash` fails a node: kill = the node dies (process: SIGKILL);
// pause = it stops without dying (process: SIGSTOP), `resume` continues it.
// panic (VM mode only): the guest kernel panics (sysrq-c); QEMU pauses it.
enum class CrashHow { kKill, kPause, kPanic };
std::string_view crash_how_name(CrashHow how);
std::optional<CrashHow> parse_crash_how(std::string_view name);

}  // namespace gmm::host
