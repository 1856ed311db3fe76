// A testbed cluster as gmm-host records it in DIR/cluster.json, and the
// lifecycle operations on it. The mode (process or, later, VM) is a property
// of the recorded cluster: every command after `up` reads it from the record
// and dispatches to that mode's launcher.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gmm/pool.hpp"
#include "gmm/result.hpp"

namespace gmm::host {

enum class Mode { kProc, kVm };  // kVm: one QEMU VM per node (vm_cluster.hpp)
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

// The ivshmem doorbell server (both modes, doorbell_server.hpp) and, VM mode
// only, how the VMs were started.
struct VmRecord {
  std::int64_t server_pid = 0;  // gmm-ivshmem-server (0: none, e.g. an older process-mode record)
  std::string server_log;
  std::string accel;            // tcg or kvm
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
// (gmmd beats from its own thread, so a busy node still beats). Default:
// detection in about 0.5 s. On the loaded 2-core test machine heartbeats
// were seen to stall for 200-430 ms now and then (once 820 ms) under
// heavy overload; 20 ms x 10 detects in ~0.2 s but then expels a stalled
// node more often. leave_grace_ms: what applications get on a planned
// removal before the system revokes their shares.
struct Membership {
  std::uint32_t heartbeat_ms = 20;
  std::uint32_t miss_threshold = 25;
  std::uint32_t leave_grace_ms = 2000;
};

struct Cluster {
  Mode mode = Mode::kProc;
  std::string dir;  // absolute
  std::string pool_path;
  std::uint64_t pool_size = 0;
  Membership membership;
  Binaries binaries;
  std::int64_t started_unix = 0;
  std::vector<NodeRecord> nodes;
  VmRecord vm;  // the doorbell server; the rest VM mode only

  std::string state_path() const { return dir + "/cluster.json"; }
  std::string faults_path() const { return dir + "/faults.json"; }  // see faults.hpp
};

nlohmann::json cluster_json(const Cluster& cluster);
// Errors: kInvalidArgument naming what is wrong in the record.
Result<Cluster> cluster_from_json(const nlohmann::json& record);

// The pool geometry for `nodes` nodes with `membership`'s timing, both
// modes. Errors: kInvalidArgument if `size` bytes cannot hold it.
Result<Geometry> pool_geometry(std::uint64_t size, std::uint32_t nodes, const Membership& membership);

// Removes a cluster's files: the mode's per-node files (`node_files`), the
// pool, the fault log and the record. Errors: kIo naming what stayed.
Status remove_cluster_files(const Cluster& cluster, const std::vector<std::string>& node_files);

// nullopt when DIR has no cluster.json. Errors: unreadable or corrupt record.
Result<std::optional<Cluster>> load_cluster(const std::string& dir);
Status save_cluster(const Cluster& cluster);  // atomically (write + rename)

// $GMM_CLUSTER_DIR, else /tmp/gmm-cluster-<user>.
std::string default_cluster_dir();
// Under /dev/shm, named after DIR so clusters in different DIRs coexist.
std::string default_pool_path(const std::string& dir);
// gmmd and gmmctl built next to the running gmm-host.
Binaries sibling_binaries();

struct UpOptions {
  // node id -> crash spec "POINT[:N]" passed to that node's gmmd as --crash-at
  std::vector<std::pair<std::uint32_t, std::string>> crash_at;
  Mode mode = Mode::kProc;
  std::uint32_t nodes = 4;
  std::uint64_t pool_size = 0;
  std::string dir;
  std::string pool_path;  // empty: default_pool_path(dir)
  Membership membership;
  Binaries binaries;
  std::chrono::seconds ready_timeout{60};
  std::string accel = "auto";  // VM mode: auto, kvm or tcg
};

struct NodeHealth {
  NodeRecord node;
  bool alive = false;      // the recorded process still exists (it may be paused)
  bool paused = false;     // ... but is stopped (`gmm-host crash --how pause`): not pinged
  bool answering = false;  // gmmd answers ping on its socket
  std::string detail;      // why not, when not
};

// How `gmm-host crash` fails a node: kill = the node dies (process: SIGKILL);
// pause = it stops without dying (process: SIGSTOP), `resume` continues it.
// panic (VM mode only): the guest kernel panics (sysrq-c); QEMU pauses it.
enum class CrashHow { kKill, kPause, kPanic };
std::string_view crash_how_name(CrashHow how);
std::optional<CrashHow> parse_crash_how(std::string_view name);

// Starts a cluster and records it; returns once every node answers ping.
// Refuses if a live cluster is recorded in DIR. On failure it stops what it
// started, and the error names the node that failed with its log's tail.
// The record of a cluster `up` is about to start in `dir`, before any
// mode-specific part: what both modes take from `options` alike.
Cluster new_cluster(Mode mode, const std::string& dir, const UpOptions& options);
Result<Cluster> up(const UpOptions& options);
std::vector<NodeHealth> health(const Cluster& cluster);
NodeHealth node_health(const Cluster& cluster, std::uint32_t node);
// Stops every node and removes sockets, the pool file and the record (logs
// stay). Errors: a node that would not die, a file that would not go.
Status down(const Cluster& cluster);

// One node's platform, dispatched on the cluster's mode. Errors name the
// node and say what is wrong (not running, still running, ...).
// crash_node returns once the node is dead or stopped. `event_ns`, if given,
// gets the platform's own time of the fault when it reports one (VM panic:
// QEMU's GUEST_PANICKED event, CLOCK_REALTIME ns), else stays unchanged.
Status crash_node(const Cluster& cluster, std::uint32_t node, CrashHow how, std::uint64_t* event_ns = nullptr);
Status resume_node(const Cluster& cluster, std::uint32_t node);
// Starts a node that is not running again (same socket; its log is
// appended to) and records the new process in `cluster` (not saved).
// `crash_at`: a crash spec for the new gmmd, or empty.
Status start_node(Cluster& cluster, std::uint32_t node, const std::string& crash_at);
// nullopt while the node's gmmd runs (or is paused); else why it is not
// running, with its log's tail.
std::optional<std::string> node_exited(const Cluster& cluster, std::uint32_t node);

// The last `lines` lines of a text file ("" if unreadable).
std::string file_tail(const std::string& path, int lines);

}  // namespace gmm::host
