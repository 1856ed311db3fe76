// The launcher factory, and process mode's launcher on a real cluster:
// the verbs it has, the ones it has not, and its liveness stream.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <set>

#include "cluster/cluster.hpp"
#include "commands/launchers.hpp"
#include "test_cluster.hpp"

namespace {

using namespace gmm::host;
using gmm::test::TestCluster;
using namespace std::chrono_literals;

Cluster recorded(const TestCluster& cluster) {
  auto loaded = gmm::host::load_cluster(cluster.dir());
  REQUIRE(loaded);
  REQUIRE(loaded->has_value());
  return std::move(**loaded);
}

NodeEvent next_event(LivenessStream& stream) {
  auto event = stream.next(30s);
  REQUIRE(event);
  REQUIRE(event->has_value());
  return std::move(**event);
}

// The next event is `node`'s exit.
NodeEvent require_exit(LivenessStream& stream, std::uint32_t node) {
  NodeEvent event = next_event(stream);
  CHECK(event.node == node);
  CHECK(event.kind == NodeEventKind::kExited);
  return event;
}

// Nothing happens for `wait`.
void require_quiet(LivenessStream& stream, std::chrono::milliseconds wait) {
  auto event = stream.next(wait);
  REQUIRE(event);
  CHECK_FALSE(event->has_value());
}

}  // namespace

TEST_CASE("every mode has its launcher, chosen from the record's mode", "[launcher]") {
  for (const char* name : {"proc", "vm"}) {
    auto mode = gmm::host::parse_mode(name);
    REQUIRE(mode);
    std::unique_ptr<Launcher> launcher = make_launcher(*mode);
    REQUIRE(launcher);
    CHECK(launcher->mode() == *mode);
    CHECK(launcher->name() == name);
  }
  CHECK(make_launcher(Mode::kProc)->node_process() == "gmmd");
  CHECK(make_launcher(Mode::kVm)->node_process() == "QEMU");

  nlohmann::json record = {{"mode", "vm"},
                           {"dir", "/tmp/c"},
                           {"pool", {{"path", "/dev/shm/p"}, {"size", 1 << 28}}},
                           {"membership", {{"heartbeat_ms", 100}, {"miss_threshold", 20}}},
                           {"binaries", {{"gmmd", "/b/gmmd"}, {"gmmctl", "/b/gmmctl"}}},
                           {"started_unix", 1},
                           {"nodes", nlohmann::json::array()}};
  auto cluster = gmm::host::cluster_from_json(record);
  REQUIRE(cluster);
  CHECK(make_launcher(cluster->mode)->name() == "vm");
}

TEST_CASE("process mode says which verbs it cannot do, naming itself and the verb", "[launcher]") {
  std::unique_ptr<Launcher> launcher = make_launcher(Mode::kProc);
  Cluster cluster;
  cluster.dir = "/tmp/c";
  cluster.nodes.resize(1);
  auto panic = launcher->panic(cluster, 0);
  REQUIRE_FALSE(panic);
  CHECK_THAT(panic.error().message, Catch::StartsWith("the proc backend cannot panic a node: "));
  auto nmi = launcher->nmi(cluster, 0);
  REQUIRE_FALSE(nmi);
  CHECK_THAT(nmi.error().message, Catch::StartsWith("the proc backend cannot send an NMI: "));
  auto console = launcher->console(cluster, 0);
  REQUIRE_FALSE(console);
  CHECK_THAT(console.error().message, Catch::StartsWith("the proc backend cannot attach a console: "));
  CHECK_THAT(console.error().message, Catch::Contains("process mode"));
}

TEST_CASE("process mode: kill, pause, fence and stop show in the liveness stream as exits", "[launcher]") {
  TestCluster nodes(4, "32M");
  Cluster cluster = recorded(nodes);
  std::unique_ptr<Launcher> launcher = make_launcher(cluster.mode);
  for (std::uint32_t node = 0; node < 4; ++node) CHECK(launcher->running(cluster, node));
  auto stream = launcher->watch(cluster);
  REQUIRE(stream);
  require_quiet(*stream, 100ms);

  REQUIRE(launcher->kill(cluster, 1).ok());
  NodeEvent killed = require_exit(*stream, 1);
  CHECK_THAT(killed.detail, Catch::StartsWith("gmmd pid " + std::to_string(cluster.nodes[1].pid)));
  CHECK_FALSE(launcher->running(cluster, 1));
  auto again = launcher->kill(cluster, 1);
  REQUIRE_FALSE(again);
  CHECK(again.error().message == "node 1's gmmd (pid " + std::to_string(cluster.nodes[1].pid) + ") is not running");

  // A paused gmmd cannot beat; fenced, it is gone for good.
  REQUIRE(launcher->pause(cluster, 2).ok());
  CHECK(launcher->health(cluster, 2).paused);
  require_quiet(*stream, 200ms);  // process mode cannot see a stop
  REQUIRE(launcher->fence(cluster, 2).ok());
  require_exit(*stream, 2);
  CHECK_FALSE(launcher->running(cluster, 2));
  CHECK(launcher->fence(cluster, 2).ok());  // gone already: still fenced

  CHECK(launcher->live_parts(cluster) == "node 0 (gmmd pid " + std::to_string(cluster.nodes[0].pid) +
                                             "), node 3 (gmmd pid " + std::to_string(cluster.nodes[3].pid) +
                                             "), ivshmem server");
  REQUIRE(launcher->stop(cluster, {3}).ok());
  require_exit(*stream, 3);
  CHECK_FALSE(launcher->running(cluster, 3));
  CHECK(launcher->running(cluster, 0));

  // A new watch tells at once which nodes are not running.
  auto later = launcher->watch(cluster);
  REQUIRE(later);
  std::set<std::uint32_t> gone;
  for (int i = 0; i < 3; ++i) {
    NodeEvent event = next_event(*later);
    CHECK(event.kind == NodeEventKind::kExited);
    CHECK_THAT(event.detail, Catch::Contains("was not running when the watch began"));
    gone.insert(event.node);
  }
  CHECK(gone == std::set<std::uint32_t>{1, 2, 3});
  require_quiet(*later, 100ms);
}
