// Faults and membership changes end to end: `gmm-host crash/resume/restart/
// leave/lose-memory`, gmmd's crash points and `gmmctl watch`, on real
// process clusters. Only outcomes are asserted (detection and recovery
// times must be reported, never be fast), with generous waits.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <thread>
#include <string>

#include <nlohmann/json.hpp>

#include "gmm/crash.hpp"
#include "proto/client.hpp"
#include "scenario/run_process.hpp"
#include "test_cluster.hpp"

using namespace gmm::test;  // TestCluster, kHost, run_process, describe, ...
using nlohmann::json;

namespace {

const std::string kGmmd = GMM_GMMD_BIN;

// The entry of `ls --json` named `name`, or null.
json section_named(const std::string& listing, const std::string& name) {
  for (const json& section : json::parse(listing)) {
    if (section["name"] == name) return section;
  }
  return nullptr;
}

// The last failure is `node`'s and every survivor has finished with it.
bool failure_recovered(const json& status, int node) {
  const json& failure = status["last_failure"];
  return failure.is_object() && failure["node"] == node && failure["complete"] == true;
}

void require_member(const json& status, int node, unsigned incarnation) {
  INFO(status.dump(2));
  const json& entry = status["nodes"][node];
  CHECK(entry["slot"] == "member");
  CHECK(entry["incarnation"] == incarnation);
  CHECK(entry["answering"] == true);
}

// What node's gmmd says of its doorbell in its ping reply: kind and wakes.
json doorbell_of(const TestCluster& cluster, int node) {
  auto client = gmm::proto::Client::connect(cluster.dir() + "/node" + std::to_string(node) + ".sock");
  INFO((client ? "" : client.error().message));
  REQUIRE(client);
  gmm::proto::Request ping;
  ping.op = gmm::proto::Op::kPing;
  auto reply = client->call(ping, std::chrono::seconds(30));
  INFO((reply ? reply->dump() : reply.error().message));
  REQUIRE(reply);
  REQUIRE((*reply)["doorbell"].is_object());
  return (*reply)["doorbell"];
}

}  // namespace

TEST_CASE("survivors are woken through the ivshmem doorbell when a failure is declared and recovered", "[faults]") {
  TestCluster cluster(4, "64M");
  std::vector<std::uint64_t> wakes_before;
  for (int node = 0; node < 3; ++node) {
    json doorbell = doorbell_of(cluster, node);
    CHECK(doorbell["kind"] == "ivshmem");
    wakes_before.push_back(doorbell["wakes"].get<std::uint64_t>());
  }
  cluster.host_ok({"crash", "3", "--how", "kill", "--wait", "--timeout", "120"});
  // Node 2 declares node 3 failed and rings 0 and 1; node 0, the
  // coordinator, recovers the tables and rings 1 and 2: each survivor's
  // wait on its doorbell ended because it was rung, at least once.
  for (int node = 0; node < 3; ++node) {
    INFO("node " << node);
    CHECK(doorbell_of(cluster, node)["wakes"].get<std::uint64_t>() > wakes_before[node]);
  }
  std::ifstream log(cluster.dir() + "/ivshmem-server.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, Catch::Contains("peer 3 connected"));
}

TEST_CASE("gmmd without a doorbell polls, says so, and still rejoins and recovers", "[faults]") {
  TestCluster cluster(4, "64M");
  cluster.host_ok({"crash", "3", "--how", "kill", "--wait", "--timeout", "120"});
  // Node 3 again, by hand, without --doorbell.
  const std::string socket = cluster.dir() + "/manual3.sock";
  BackgroundProcess gmmd({kGmmd, "--node", "3", "--pool", cluster.record()["pool"]["path"].get<std::string>(),
                          "--socket", socket});
  REQUIRE(gmmd.started());
  std::optional<json> reply;
  for (int attempt = 0; attempt < 600 && !reply; ++attempt) {
    if (auto client = gmm::proto::Client::connect(socket); client) {
      gmm::proto::Request ping;
      ping.op = gmm::proto::Op::kPing;
      if (auto answer = client->call(ping, std::chrono::seconds(30)); answer) reply = *answer;
    }
    if (!reply) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(gmmd.err_so_far());
  REQUIRE(reply);
  CHECK((*reply)["doorbell"]["kind"] == "polling");
  CHECK_THAT(gmmd.err_so_far(), Catch::Contains("doorbell: none (no --doorbell SOCKET)"));
  cluster.status_until([](const json& status) { return status["nodes"][3]["slot"] == "member"; });
}

TEST_CASE("a killed node is detected, recovered and reported, and the survivors keep its memory", "[faults]") {
  TestCluster cluster(4, "64M");
  cluster.ctl_ok(0, {"alloc", "on-survivor", "8K", "--on", "1"});
  cluster.ctl_ok(0, {"alloc", "on-victim", "8K", "--on", "2"});
  cluster.ctl_ok(0, {"write", "on-survivor", "0", "kept by node 1"});
  cluster.ctl_ok(0, {"write", "on-victim", "0", "kept by node 2"});
  cluster.ctl_ok(2, {"open", "on-survivor"});
  cluster.ctl_ok(3, {"open", "on-survivor"});
  cluster.ctl_ok(3, {"open", "on-victim"});

  std::string crashed = cluster.host_ok({"crash", "2", "--how", "kill", "--wait", "--timeout", "120"});
  CHECK_THAT(crashed, Catch::Contains("killed gmmd") && Catch::Contains("node 2 failed: detected in") &&
                          Catch::Contains("recovered in"));

  json status = cluster.status();
  INFO(status.dump(2));
  const json& failure = status["last_failure"];
  REQUIRE(failure.is_object());
  CHECK(failure["node"] == 2);
  CHECK(failure["how"] == "kill");
  CHECK(failure["detection_ms"].is_number());
  CHECK(failure["silence_ms"].is_number());
  CHECK(failure["tables_recovered_ms"].is_number());
  CHECK(failure["recovery_ms"].is_number());
  CHECK(failure["survivors"] == json::array({0, 1, 3}));
  CHECK(failure["done"] == json::array({0, 1, 3}));
  CHECK(status["healthy"] == false);
  CHECK(status["nodes"][2]["alive"] == false);
  CHECK(status["nodes"][2]["slot"] == "absent");
  CHECK(status["members"] == json::array({0, 1, 3}));
  CHECK(status["directory"]["primary"] != 2);
  CHECK(status["directory"]["replica"] != 2);
  CHECK_THAT(cluster.host({"status"}).out, Catch::Contains("node 2 failed: detected in"));
  cluster.require_clean();

  // A process crash loses no memory: both sections stay readable.
  CHECK(cluster.ctl_ok(3, {"read", "on-survivor", "0", "14"}) == "kept by node 1\n");
  CHECK(cluster.ctl_ok(3, {"read", "on-victim", "0", "14"}) == "kept by node 2\n");
  std::string listing = cluster.ctl_ok(1, {"ls", "--json"});
  CHECK(section_named(listing, "on-survivor")["sharer_nodes"] == json::array({0, 3}));  // node 2's share is gone
}

TEST_CASE("a paused node is declared failed and rejoins as a new incarnation when resumed", "[faults]") {
  // The heartbeat alone: no watcher fences the paused node, so what is
  // tested is the incarnation check (watcher_test.cpp has the fenced variant).
  TestCluster cluster(3, "32M", {"--detector", "heartbeat"});
  cluster.ctl_ok(0, {"alloc", "shared", "4K"});
  cluster.ctl_ok(1, {"open", "shared"});

  std::string paused = cluster.host_ok({"crash", "1", "--how", "pause", "--wait", "--timeout", "120"});
  CHECK_THAT(paused, Catch::Contains("paused gmmd") && Catch::Contains("node 1 failed"));
  json status = cluster.status();
  CHECK(status["nodes"][1]["paused"] == true);
  CHECK(status["nodes"][1]["slot"] != "member");
  CHECK(status["last_failure"]["how"] == "pause");
  CHECK(status["last_failure"]["detection_ms"].is_number());
  CHECK(section_named(cluster.ctl_ok(0, {"ls", "--json"}), "shared")["sharer_nodes"] == json::array({0}));

  std::string resumed = cluster.host_ok({"resume", "1", "--timeout", "120"});
  CHECK_THAT(resumed, Catch::Contains("rejoined as incarnation 2"));
  status = cluster.status();
  require_member(status, 1, 2);
  CHECK(status["healthy"] == true);
  // The new incarnation works; the old one's share stayed revoked.
  cluster.ctl_ok(1, {"alloc", "after-resume", "4K"});
  CHECK(section_named(cluster.ctl_ok(1, {"ls", "--json"}), "shared")["sharer_nodes"] == json::array({0}));
  cluster.require_clean();

  require_one_line_failure(cluster.host({"resume", "1"}), "is not paused", "gmm-host");
}

TEST_CASE("a killed node restarts as a new incarnation", "[faults]") {
  TestCluster cluster(3, "32M");
  require_one_line_failure(cluster.host({"restart", "2"}), "still running", "gmm-host");
  cluster.host_ok({"crash", "2", "--how", "kill", "--wait", "--timeout", "120"});
  require_one_line_failure(cluster.host({"crash", "2", "--how", "kill"}), "not running", "gmm-host");

  std::string restarted = cluster.host_ok({"restart", "2", "--timeout", "120"});
  CHECK_THAT(restarted, Catch::Contains("joined as incarnation 2"));
  json status = cluster.status();
  require_member(status, 2, 2);
  CHECK(status["healthy"] == true);
  CHECK(status["members"] == json::array({0, 1, 2}));
  CHECK_THAT(cluster.ctl_ok(2, {"alloc", "after-restart", "4K"}), Catch::Contains("on node 2"));
  cluster.require_clean();
}

TEST_CASE("points lists every crash point", "[faults]") {
  ProcessResult text = run_process({kHost, "points"});
  INFO(describe(text));
  REQUIRE(text.status == 0);
  ProcessResult as_json = run_process({kHost, "points", "--json"});
  REQUIRE(as_json.status == 0);
  json points = json::parse(as_json.out);

  auto lines = lines_of(text.out);
  REQUIRE(lines.size() == gmm::crash_points().size());
  REQUIRE(points.size() == gmm::crash_points().size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const gmm::CrashPointInfo& point = gmm::crash_points()[i];
    CHECK(lines[i].rfind(std::string(point.name) + " ", 0) == 0);
    CHECK_THAT(lines[i], Catch::EndsWith(std::string(point.description)));
    CHECK(points[i]["name"] == point.name);
    CHECK(points[i]["description"] == point.description);
  }
}

TEST_CASE("a node that leaves is gone, what only it shared is freed and what lived in its memory is revoked",
          "[faults]") {
  TestCluster cluster(3, "32M", {"--leave-grace-ms", "200"});
  cluster.ctl_ok(2, {"alloc", "only-mine", "4K", "--on", "0"});
  cluster.ctl_ok(0, {"alloc", "shared", "4K", "--on", "2"});
  cluster.ctl_ok(2, {"open", "shared"});
  cluster.ctl_ok(0, {"alloc", "kept", "4K", "--on", "1"});
  cluster.ctl_ok(2, {"open", "kept"});

  CHECK_THAT(cluster.host_ok({"leave", "2", "--timeout", "120"}), Catch::Contains("node 2 left the cluster"));
  std::string listing = cluster.ctl_ok(0, {"ls", "--json"});
  CHECK(section_named(listing, "only-mine").is_null());
  CHECK(section_named(listing, "shared").is_null());  // homed on node 2: revoked although node 0 shares it
  CHECK(section_named(listing, "kept")["sharer_nodes"] == json::array({0}));
  require_one_line_failure(cluster.ctl(1, {"alloc", "later", "4K", "--on", "2"}),
                           "node 2 is leaving or has left the cluster");
  json status = cluster.status();
  INFO(status.dump(2));
  CHECK(status["nodes"][2]["left"] == true);
  CHECK(status["nodes"][2]["alive"] == false);
  CHECK(status["nodes"][2]["slot"] == "absent");
  CHECK(status["members"] == json::array({0, 1}));
  CHECK(status["healthy"] == true);
  cluster.require_clean();
  require_one_line_failure(cluster.host({"leave", "2"}), "node 2 cannot leave: left the cluster", "gmm-host");
}

TEST_CASE("lost memory takes the sections homed there and nothing else", "[faults]") {
  TestCluster cluster(4, "64M");
  cluster.ctl_ok(0, {"alloc", "on-1", "4K", "--on", "1"});
  cluster.ctl_ok(0, {"alloc", "on-2", "4K", "--on", "2"});
  cluster.ctl_ok(0, {"alloc", "on-2-too", "4K", "--on", "2"});
  cluster.ctl_ok(0, {"write", "on-1", "0", "still here"});
  cluster.ctl_ok(3, {"open", "on-2"});

  CHECK_THAT(cluster.host_ok({"lose-memory", "2", "--timeout", "120"}), Catch::Contains("tables recovered"));
  std::string listing = cluster.ctl_ok(3, {"ls", "--json"});
  CHECK(section_named(listing, "on-2").is_null());
  CHECK(section_named(listing, "on-2-too").is_null());
  CHECK_FALSE(section_named(listing, "on-1").is_null());
  CHECK(cluster.ctl_ok(3, {"open", "on-1"}) != "");
  CHECK(cluster.ctl_ok(3, {"read", "on-1", "0", "10"}) == "still here\n");
  require_one_line_failure(cluster.ctl(1, {"open", "on-2"}), "open on-2:");

  json status = cluster.status();
  INFO(status.dump(2));
  CHECK(status["lost_partitions"] == json::array({2}));
  CHECK(status["nodes"][2]["memory_lost"] == true);
  CHECK(status["directory"]["primary"] != 2);
  CHECK(status["directory"]["replica"] != 2);
  cluster.require_clean();
  require_one_line_failure(cluster.host({"lose-memory", "2"}), "already lost", "gmm-host");
}

TEST_CASE("a gmmd armed with a crash point dies there and the survivors recover", "[faults]") {
  // No watcher: it would fence node 1's programs (this gmmctl among them)
  // as soon as its gmmd dies, racing the client's own error line tested here.
  TestCluster cluster(3, "32M", {"--crash-at", "1=alloc.committing", "--detector", "heartbeat"});
  CHECK(cluster.record()["nodes"][1]["crash_at"] == "alloc.committing");

  require_one_line_failure(cluster.ctl(1, {"alloc", "x", "4K"}), "connection to gmmd lost");
  json status = cluster.status_until([](const json& report) { return failure_recovered(report, 1); });
  CHECK(status["last_failure"]["how"].is_null());  // not injected by gmm-host
  CHECK(status["last_failure"]["detection_ms"].is_null());
  CHECK(status["last_failure"]["recovery_ms"].is_number());
  cluster.require_clean();

  // `x` does not half-exist: committed by recovery, then freed with its
  // only sharer; the name is free again.
  CHECK(section_named(cluster.ctl_ok(0, {"ls", "--json"}), "x").is_null());
  require_one_line_failure(cluster.ctl(2, {"open", "x"}), "open x:");
  cluster.ctl_ok(0, {"alloc", "x", "4K"});
  cluster.require_clean();
}

TEST_CASE("gmmd refuses an unknown crash point in one line", "[faults]") {
  ProcessResult flag = run_process({kGmmd, "--node", "0", "--pool", "/nonexistent", "--socket", "/tmp/unused.sock",
                                    "--crash-at", "alloc.nowhere"});
  require_one_line_failure(flag, "unknown crash point 'alloc.nowhere'", "gmmd");
  ProcessResult env = run_process({"env", "GMMD_CRASH_AT=open.nowhere:2", kGmmd, "--node", "0", "--pool",
                                   "/nonexistent", "--socket", "/tmp/unused.sock"});
  require_one_line_failure(env, "unknown crash point 'open.nowhere'", "gmmd");
  ProcessResult up = run_process({kHost, "--dir", "/tmp/unused-cluster", "up", "--mode", "proc", "--nodes", "2",
                                  "--pool-size", "32M", "--crash-at", "1=close.nowhere"});
  require_one_line_failure(up, "unknown crash point 'close.nowhere'", "gmm-host");
}

TEST_CASE("gmmctl watch prints the failure of another node", "[faults]") {
  TestCluster cluster(3, "32M");
  BackgroundProcess watch({kHost, "--dir", cluster.dir(), "exec", "0", "--", "gmmctl", "watch", "--count", "1",
                           "--timeout", "300", "--event", "node-failed"});
  REQUIRE(watch.started());
  // Subscribed once it says so.
  for (int i = 0; i < 1200 && watch.err_so_far().find("watching events on node 0") == std::string::npos; ++i) {
    ::usleep(100 * 1000);
  }
  REQUIRE_THAT(watch.err_so_far(), Catch::Contains("watching events on node 0"));
  cluster.host_ok({"crash", "2", "--how", "kill"});

  ProcessResult watched = watch.wait(std::chrono::seconds(300));
  INFO(describe(watched));
  CHECK(watched.status == 0);
  auto lines = lines_of(watched.out);
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0], Catch::StartsWith("node-failed: node 2, incarnation 1"));

  ProcessResult timed_out = cluster.ctl(0, {"watch", "--count", "1", "--timeout", "0.5", "--event", "memory-lost"});
  INFO(describe(timed_out));
  CHECK(timed_out.status == 1);
  CHECK_THAT(timed_out.err, Catch::Contains("gmmctl: watch: timed out after 0.5 s with 0 of 1 events"));
}
