// The host watcher end to end on process clusters (watcher/watcher.hpp):
// notices for dead gmmds, fences of nodes declared failed while they still
// run, its lifecycle in `status`, the fallback to the heartbeat when it
// dies, and its own crash points. Outcomes only; times are reported, never
// asserted.
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "scenario/run_process.hpp"
#include "test_cluster.hpp"

using namespace gmm::test;
using nlohmann::json;

namespace {

bool recovered(const json& status, int node) {
  const json& failure = status["last_failure"];
  return failure.is_object() && failure["node"] == node && failure["complete"] == true;
}

// Arms the watcher that the next `gmm-host up` starts (it inherits our
// environment) to die at one of its crash points.
class WatcherCrashAt {
 public:
  explicit WatcherCrashAt(const char* point) { ::setenv("GMM_WATCHER_CRASH_AT", point, 1); }
  ~WatcherCrashAt() { ::unsetenv("GMM_WATCHER_CRASH_AT"); }
};

std::int64_t watcher_pid(const TestCluster& cluster) { return cluster.record()["watcher"]["pid"].get<std::int64_t>(); }

}  // namespace

TEST_CASE("watcher: a killed gmmd is declared on the watcher's notice, fenced, and timed on the host clock",
          "[watcher]") {
  TestCluster cluster(3, "32M");
  json status = cluster.status();
  REQUIRE(status["detector"] == "both");
  REQUIRE(status["watcher"]["running"] == true);
  // With the watcher the heartbeat only catches hangs: lenient by default.
  CHECK(status["membership"]["miss_threshold"] == 100);
  cluster.ctl_ok(0, {"alloc", "shared", "4K"});
  cluster.ctl_ok(1, {"open", "shared"});

  std::string crashed = cluster.host_ok({"crash", "1", "--how", "kill", "--wait", "--timeout", "120"});
  CHECK_THAT(crashed, Catch::Contains("(host)"));
  status = cluster.status_until([](const json& s) { return recovered(s, 1); });
  INFO(status.dump(2));
  CHECK(status["last_failure"]["detected_by"] == "host");
  CHECK(status["last_failure"]["host_clock_detection_ms"].is_number());
  CHECK(status["last_failure"]["fence"] == "fenced");
  CHECK(status["nodes"][1]["fenced"] == true);

  CHECK_THAT(cluster.host_ok({"restart", "1", "--timeout", "120"}), Catch::Contains("joined as incarnation 2"));
  status = cluster.status();
  CHECK(status["nodes"][1]["fenced"] == false);
  CHECK(status["healthy"] == true);
  cluster.require_clean();
}

TEST_CASE("watcher: a paused node declared failed is killed with its clients before the survivors recover it",
          "[watcher]") {
  TestCluster cluster(3, "32M");
  cluster.ctl_ok(0, {"alloc", "shared", "4K"});
  cluster.ctl_ok(1, {"open", "shared"});
  // A program of node 1 that could map the pool: the fence stops it too.
  BackgroundProcess client({kHost, "--dir", cluster.dir(), "exec", "1", "--", "sleep", "600"});
  REQUIRE(client.started());

  std::string paused = cluster.host_ok({"crash", "1", "--how", "pause", "--wait", "--timeout", "120"});
  json status = cluster.status_until([](const json& s) { return recovered(s, 1); });
  INFO(status.dump(2));
  CHECK(status["last_failure"]["detected_by"] == "heartbeat");
  CHECK(status["last_failure"]["fence"] == "fenced");
  // Fenced before recovery: the watcher's fence precedes the tables'
  // recovery (process mode: one clock).
  REQUIRE(status["last_failure"]["fenced_ms"].is_number());
  CHECK(status["last_failure"]["fenced_ms"].get<double>() <= status["last_failure"]["tables_recovered_ms"].get<double>());
  CHECK(status["nodes"][1]["alive"] == false);  // paused, then killed: it can never store again
  CHECK(status["nodes"][1]["fenced"] == true);
  ProcessResult ended = client.wait(std::chrono::seconds(30));
  CHECK(ended.status != 0);  // killed, well before its 600 s

  require_one_line_failure(cluster.host({"resume", "1"}), "not running", "gmm-host");
  CHECK_THAT(cluster.host_ok({"restart", "1", "--timeout", "120"}), Catch::Contains("joined as incarnation 2"));
  cluster.ctl_ok(1, {"open", "shared"});
  cluster.require_clean();
}

TEST_CASE("watcher: its death shows in status and the heartbeat still detects", "[watcher]") {
  TestCluster cluster(3, "32M");
  REQUIRE(::kill(static_cast<pid_t>(watcher_pid(cluster)), SIGKILL) == 0);
  json status = cluster.status_until([](const json& s) { return s["watcher"]["running"] == false; });
  CHECK(status["healthy"] == false);
  CHECK_THAT(cluster.host({"status"}).out, Catch::Contains("fallen back to the nodes' heartbeat"));

  cluster.host_ok({"crash", "2", "--how", "kill", "--wait", "--timeout", "120"});
  status = cluster.status_until([](const json& s) { return recovered(s, 2); });
  INFO(status.dump(2));
  CHECK(status["last_failure"]["detected_by"] == "heartbeat");
  CHECK(status["last_failure"]["fence"].is_null());
  cluster.require_clean();
}

TEST_CASE("watcher: --detector heartbeat starts none; --detector host leaves hangs to the watcher's fallback",
          "[watcher]") {
  SECTION("heartbeat") {
    TestCluster cluster(3, "32M", {"--detector", "heartbeat"});
    json status = cluster.status();
    CHECK(status["watcher"]["expected"] == false);
    CHECK(status["watcher"]["running"] == false);
    CHECK(status["healthy"] == true);
    CHECK(cluster.record().contains("watcher") == false);
    CHECK(status["membership"]["miss_threshold"] == 25);  // the only detector: 0.5 s
  }
  SECTION("host") {
    TestCluster cluster(3, "32M", {"--detector", "host", "--miss-threshold", "25"});
    cluster.host_ok({"crash", "1", "--how", "kill", "--wait", "--timeout", "120"});
    json status = cluster.status_until([](const json& s) { return recovered(s, 1); });
    CHECK(status["last_failure"]["detected_by"] == "host");
    // A paused node is not dead: with the host as the only detector nobody
    // declares it while the watcher runs ...
    cluster.host_ok({"crash", "2", "--how", "pause"});
    std::this_thread::sleep_for(std::chrono::seconds(2));  // 4 x the heartbeat's threshold
    CHECK(cluster.status()["nodes"][2]["slot"] == "member");
    // ... and once the watcher is gone the heartbeat takes over.
    REQUIRE(::kill(static_cast<pid_t>(watcher_pid(cluster)), SIGKILL) == 0);
    status = cluster.status_until([](const json& s) { return recovered(s, 2); });
    CHECK(status["last_failure"]["detected_by"] == "heartbeat");
    cluster.require_clean();
  }
}

TEST_CASE("watcher: dying at its crash points leaves a cluster that recovers", "[watcher][crash]") {
  for (const char* point : {"notice.posted", "fence.killed"}) {
    DYNAMIC_SECTION("the watcher dies at " << point) {
      std::optional<TestCluster> cluster;
      {
        WatcherCrashAt armed(point);
        cluster.emplace(3, "32M");
      }
      cluster->ctl_ok(0, {"alloc", "shared", "4K"});
      cluster->ctl_ok(2, {"open", "shared"});
      cluster->host_ok({"crash", "2", "--how", "kill"});
      // The notice was posted, or posted and the process gone, before the
      // watcher died: the survivors act on the notice at their liveness
      // tick, and stop waiting for the fence once its lease runs out.
      json status = cluster->status_until([](const json& s) { return recovered(s, 2); });
      INFO(status.dump(2));
      CHECK(status["last_failure"]["detected_by"] == "host");
      CHECK(status["watcher"]["running"] == false);
      cluster->require_clean();
      CHECK_THAT(cluster->host_ok({"restart", "2", "--timeout", "120"}), Catch::Contains("joined as incarnation 2"));
      cluster->require_clean();
    }
  }
}
