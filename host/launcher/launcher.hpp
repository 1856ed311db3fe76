// How a cluster's nodes run: one interface, one implementation per backend.
//
//   host/proc/  ProcLauncher: every node is a gmmd process on this host
//   host/qemu/  QemuLauncher: every node is a QEMU VM (one gmmd inside)
//
// The command layer picks the backend once, from the cluster record's mode
// (commands/launchers.hpp: make_launcher), and from then on talks to this
// interface only. What a command reads or declares in the pool is the same
// in every mode: the host maps the pool file the nodes share.
//
// Node verbs take a node id the caller has checked against cluster.nodes.
// Errors name the node and what is wrong (not running, still running, ...).
// A verb a backend cannot do fails with unsupported(): "the proc backend
// cannot nmi: ...". Not thread-safe: one caller at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/cluster.hpp"
#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"
#include "launcher/liveness.hpp"
#include "launcher/process_handle.hpp"

namespace gmm::host {

// What `gmm-host up` asks for.
struct UpOptions {
  // node id -> crash spec "POINT[:N][:ACTION]" passed to that node's gmmd as --crash-at
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
  Detector detector = Detector::kBoth;  // the command layer starts the watcher after up()
};

struct NodeHealth {
  NodeRecord node;
  bool alive = false;      // the recorded process still exists (it may be paused)
  bool paused = false;     // ... but is stopped (`gmm-host crash --how pause`): not pinged
  bool answering = false;  // gmmd answers ping on its socket
  std::string detail;      // why not, when not
};

// How a command run on a node ended, when it ran or could not be started.
struct ExecOutcome {
  int status = 0;    // its exit status; 127: it could not be run
  std::string note;  // for the user, on stderr: why it could not run, output that was cut, ...
};

// A byte stream to the shell on a node's console, and the lock that makes
// this the only one attached (the console serves one client at a time).
struct ConsoleConnection {
  UniqueFd stream;
  UniqueFd lock;
};

class Launcher {
 public:
  virtual ~Launcher() = default;

  Mode mode() const { return mode_; }
  std::string_view name() const { return mode_name(mode_); }  // "proc", "vm"
  // What runs one node, for messages: "gmmd", "QEMU".
  std::string_view node_process() const { return node_process_; }
  // The nodes' CLOCK_REALTIME is the host's (process mode), so the times
  // the pool's records carry are on the host's clock.
  virtual bool host_clock() const { return false; }

  // ---- The cluster
  // Refuses options this backend cannot run, before anything is touched.
  virtual Status check(const UpOptions& options) const = 0;
  // Starts every node in `dir` (existing, absolute, no cluster recorded in
  // it), records the cluster there and returns once every node answers.
  // On failure it stops what it started; the error names the node that
  // failed with its log's tail.
  virtual Result<Cluster> up(const UpOptions& options, const std::string& dir) = 0;
  // Stops these nodes, letting them leave cleanly, and kills those that do
  // not go in time (paused ones are continued first). Errors: nodes that
  // survived SIGKILL.
  virtual Status stop(const Cluster& cluster, const std::vector<std::uint32_t>& nodes) = 0;
  // The sockets this backend made per node (gmmd's, QEMU's), which
  // remove_files() removes.
  virtual std::vector<std::string> node_sockets(const Cluster& cluster) const = 0;
  // stop() every node, then the doorbell server, then remove_files().
  Status down(const Cluster& cluster);
  // Removes the node sockets (only if they still are sockets), the doorbell
  // server's, the pool, the fault log and the record; logs stay. Errors: kIo
  // naming what stayed.
  Status remove_files(const Cluster& cluster) const;
  // What still runs: "node 0 (gmmd pid 7), node 2 (gmmd pid 9), ivshmem
  // server", or "" when nothing does.
  std::string live_parts(const Cluster& cluster) const;

  // ---- One node
  // Starts a node that is not running again (same socket; its log is
  // appended to) and records the new process in `cluster` (not saved).
  // `crash_at`: a crash spec for the new gmmd, or empty.
  virtual Status start(Cluster& cluster, std::uint32_t node, const std::string& crash_at) = 0;
  // Fault injection: the node dies now (SIGKILL). Errors: it is not running.
  virtual Status kill(const Cluster& cluster, std::uint32_t node) = 0;
  // It stops without dying until resume(). Errors: not running, already paused.
  virtual Status pause(const Cluster& cluster, std::uint32_t node) = 0;
  virtual Status resume(const Cluster& cluster, std::uint32_t node) = 0;
  // Its OS panics; returns once the platform saw it, with the platform's
  // time of the panic (CLOCK_REALTIME ns) if it reports one.
  virtual Result<std::optional<std::uint64_t>> panic(const Cluster& cluster, std::uint32_t node) = 0;
  // A non-maskable interrupt to every CPU of the node.
  virtual Status nmi(const Cluster& cluster, std::uint32_t node) = 0;
  // The node can never write the pool again: its process is killed (even
  // a paused one) and gone when this returns. Succeeds on a node that is
  // not running. Errors: it survived SIGKILL.
  virtual Status fence(const Cluster& cluster, std::uint32_t node) = 0;

  // The recorded process still exists (it may be paused).
  virtual bool running(const Cluster& cluster, std::uint32_t node) const = 0;
  // Its process, and whether its gmmd answers (asks it).
  virtual NodeHealth health(const Cluster& cluster, std::uint32_t node) = 0;
  // nullopt while the node's process runs (or is paused); else why it is
  // not running, with its log's tail.
  virtual std::optional<std::string> exited(const Cluster& cluster, std::uint32_t node) = 0;
  // Liveness events of every node from now on; a node not running when the
  // watch begins is reported as exited at once.
  virtual Result<LivenessStream> watch(const Cluster& cluster) = 0;
  // The same for one node, added to `stream` (the host watcher adds a node
  // again after `restart`). Default: its process's exit.
  virtual Status watch_node(const Cluster& cluster, std::uint32_t node, LivenessStream& stream);
  // The node's process held by a pidfd (nullopt: not running), for a
  // caller that must fence that very process later, whatever the record says.
  Result<std::optional<ProcessHandle>> open_node_process(const Cluster& cluster, std::uint32_t node) const {
    return open_process(cluster, node);
  }
  // The rest of a fence: other processes of the node that can write the
  // pool, killed and gone when this returns (process mode: the programs run
  // for the node, which map pool sections; a VM's die with its QEMU).
  // Errors: one survived SIGKILL.
  virtual Status fence_clients(const Cluster& cluster, std::uint32_t node);

  // Runs argv on the node with GMM_SOCKET and GMM_NODE set for it, its
  // output on ours. Process mode: gmm-host becomes argv (exec) and returns
  // only if it cannot. Errors: the node cannot run anything now.
  virtual Result<ExecOutcome> exec(const Cluster& cluster, std::uint32_t node,
                                   const std::vector<std::string>& argv) = 0;
  // Attaches to the shell on the node's console. Errors: the node is not
  // running or stopped, another console is attached.
  virtual Result<ConsoleConnection> console(const Cluster& cluster, std::uint32_t node) = 0;

 protected:
  Launcher(Mode mode, std::string_view node_process) : mode_(mode), node_process_(node_process) {}

  // For backends whose node is one host process (gmmd, QEMU): what kill,
  // fence and watch do with it.
  //
  // The node's process held by a pidfd; nullopt when it is not running.
  virtual Result<std::optional<ProcessHandle>> open_process(const Cluster& cluster, std::uint32_t node) const = 0;
  // SIGKILL, returning once the process is gone. Errors: it survived
  // SIGKILL for `timeout`; kill_process also when it is not running.
  Status kill_process(const Cluster& cluster, std::uint32_t node, std::chrono::milliseconds timeout) const;
  Status fence_process(const Cluster& cluster, std::uint32_t node, std::chrono::milliseconds timeout) const;
  // A stream of every node's exit; a node not running is reported at once.
  Result<LivenessStream> watch_exits(const Cluster& cluster);
  // The node's process in messages: "node 2's gmmd (pid 42)".
  std::string who(const NodeRecord& node) const;

 private:
  Mode mode_;
  std::string_view node_process_;
};

// The error of a verb `launcher` cannot do: kInvalidArgument, "the proc
// backend cannot VERB: WHY".
Error unsupported(const Launcher& launcher, std::string_view verb, std::string_view why);

}  // namespace gmm::host
