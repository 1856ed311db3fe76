// VM mode's launcher against a real QEMU started paused without a kernel
// (-S): QMP verbs, fence, and the liveness stream from the pidfd and the
// second QMP monitor ([qemu], label vm: it needs qemu-system-x86_64, not the
// image). And what each QMP event means for liveness (label host).
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "cluster/cluster.hpp"
#include "commands/launchers.hpp"
#include "gmm/clock.hpp"
#include "qemu/qmp_events.hpp"
#include "vm/process.hpp"
#include "vm/qemu_command.hpp"
#include "vm/qmp.hpp"

namespace {

using namespace gmm::host;
using namespace std::chrono_literals;

struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/gmm-ql-XXXXXX";  // short: unix socket paths
    path = ::mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

// The flags of node 0's QMP monitors as `up` gives them (qemu_argv).
std::vector<std::string> monitor_flags(const std::string& dir) {
  vm::VmSettings settings;
  settings.kernel = "/unused/vmlinux";
  settings.initrd = "/unused/initramfs.cpio.gz";
  settings.dir = dir;
  auto argv = vm::qemu_argv(settings, 0);
  REQUIRE(argv);
  std::vector<std::string> flags;
  for (std::size_t i = 0; i + 1 < argv->size(); ++i) {
    const std::string& flag = (*argv)[i];
    const std::string& value = (*argv)[i + 1];
    if (flag == "-qmp" || flag == "-mon" || (flag == "-chardev" && value.starts_with("socket,id=events,"))) {
      flags.insert(flags.end(), {flag, value});
    }
  }
  REQUIRE(flags.size() == 6);
  return flags;
}

NodeEvent next_event(LivenessStream& stream) {
  auto event = stream.next(20s);
  REQUIRE(event);
  REQUIRE(event->has_value());
  return std::move(**event);
}

}  // namespace

TEST_CASE("VM mode: resume, pause and nmi through QMP, fence by pidfd, each seen by the liveness stream", "[qemu]") {
  // Never a silent skip: a VM test that cannot start QEMU fails and says why.
  if (std::system("command -v qemu-system-x86_64 >/dev/null") != 0) {
    FAIL("qemu-system-x86_64 is not installed (make test installs it: ansible/packages-build.txt)");
  }
  TempDir dir;
  const vm::NodeFiles files = vm::node_files(dir.path, 0);
  std::vector<std::string> argv{"qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-nodefaults", "-display", "none", "-S"};
  for (const std::string& flag : monitor_flags(dir.path)) argv.push_back(flag);
  auto pid = vm::spawn_process(argv, {.output = files.qemu_log, .nice = 5, .die_with_parent = true});
  REQUIRE(pid);
  REQUIRE(vm::QmpClient::connect(files.qmp, 30s));  // QEMU is up (and has exec'd)

  Cluster cluster;
  cluster.mode = Mode::kVm;
  cluster.dir = dir.path;
  gmm::host::NodeRecord node;
  node.socket = "/run/gmmd.sock";
  node.log = files.console_log;
  node.pid = *pid;
  node.qmp = files.qmp;
  node.ctl = files.ctl;
  node.qemu_log = files.qemu_log;
  cluster.nodes = {node};
  std::unique_ptr<Launcher> launcher = gmm::host::make_launcher(cluster.mode);
  CHECK(launcher->running(cluster, 0));
  CHECK(launcher->live_parts(cluster) == "node 0 (QEMU pid " + std::to_string(*pid) + ")");
  CHECK(launcher->health(cluster, 0).paused);  // prelaunch

  auto stream = launcher->watch(cluster);
  REQUIRE(stream);
  const std::uint64_t before = gmm::realtime_ns();
  REQUIRE(launcher->resume(cluster, 0).ok());
  NodeEvent resumed = next_event(*stream);
  CHECK(resumed.node == 0);
  CHECK(resumed.kind == NodeEventKind::kResumed);
  CHECK(resumed.time_ns + 2'000'000'000ull >= before);  // QEMU's own timestamp, the host's clock
  REQUIRE(launcher->nmi(cluster, 0).ok());

  REQUIRE(launcher->pause(cluster, 0).ok());
  CHECK(next_event(*stream).kind == NodeEventKind::kStopped);
  auto health = launcher->health(cluster, 0);
  CHECK(health.alive);
  CHECK(health.paused);
  CHECK(health.detail == "VM paused");

  // QEMU serves one client per monitor: a second watcher is told why it waits.
  auto second = launcher->watch(cluster);
  REQUIRE_FALSE(second);
  CHECK_THAT(second.error().message, Catch::Contains("another watcher"));

  REQUIRE(launcher->fence(cluster, 0).ok());  // paused, and still killed
  NodeEvent fenced = next_event(*stream);
  CHECK(fenced.kind == NodeEventKind::kExited);
  CHECK(fenced.detail == "QEMU pid " + std::to_string(*pid) + " was killed by signal Killed");
  CHECK_FALSE(launcher->running(cluster, 0));
  CHECK(launcher->fence(cluster, 0).ok());
  auto kill = launcher->kill(cluster, 0);
  REQUIRE_FALSE(kill);
  CHECK_THAT(kill.error().message, Catch::Contains("is not running"));
  CHECK(launcher->exited(cluster, 0).has_value());
  CHECK(launcher->live_parts(cluster).empty());
}

TEST_CASE("QMP events become liveness events with QEMU's time; the rest are not liveness", "[launcher]") {
  auto event = [](std::string name, nlohmann::json data, std::int64_t seconds = 1700000000) {
    vm::QmpEvent qmp;
    qmp.name = std::move(name);
    qmp.data = std::move(data);
    qmp.seconds = seconds;
    qmp.microseconds = seconds < 0 ? -1 : 250000;
    return qmp;
  };
  auto stopped = gmm::host::liveness_event(3, event("STOP", nullptr));
  REQUIRE(stopped);
  CHECK(stopped->node == 3);
  CHECK(stopped->kind == NodeEventKind::kStopped);
  CHECK(stopped->time_ns == 1700000000250000000ull);
  CHECK(gmm::host::liveness_event(3, event("RESUME", nullptr))->kind == NodeEventKind::kResumed);
  auto panicked = gmm::host::liveness_event(3, event("GUEST_PANICKED", {{"action", "pause"}}));
  REQUIRE(panicked);
  CHECK(panicked->kind == NodeEventKind::kPanicked);
  CHECK(panicked->detail == "action pause");
  auto shutdown = gmm::host::liveness_event(3, event("SHUTDOWN", {{"guest", true}, {"reason", "guest-shutdown"}}));
  REQUIRE(shutdown);
  CHECK(shutdown->kind == NodeEventKind::kShutdown);
  CHECK(shutdown->detail == "guest-shutdown");
  const std::uint64_t before = gmm::realtime_ns();
  auto no_clock = gmm::host::liveness_event(3, event("STOP", nullptr, -1));  // QEMU had no time: ours
  REQUIRE(no_clock);
  CHECK(no_clock->time_ns >= before);
  CHECK_FALSE(gmm::host::liveness_event(3, event("BLOCK_IO_ERROR", nullptr)));
  CHECK_FALSE(gmm::host::qmp_time_ns(event("STOP", nullptr, -1)));
}
