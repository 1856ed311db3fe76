// End to end: `gmm-host up --mode proc` starts real gmmd processes on a pool
// in /dev/shm; gmmctl drives them through `gmm-host exec`. No timing
// assertions: only outcomes, with generous timeouts for a loaded machine.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/socket.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <thread>
#include <nlohmann/json.hpp>

#include "gmm/result.hpp"
#include "gmm/unique_fd.hpp"
#include "io/line_reader.hpp"
#include "io/unix_socket.hpp"
#include "scenario/run_process.hpp"
#include "test_cluster.hpp"

namespace fs = std::filesystem;
using namespace gmm::test;  // TestCluster, kHost, run_process, describe, ...
using nlohmann::json;

namespace {

const std::string kGmmd = GMM_GMMD_BIN;

// How gmmctl names an error code at the end of its message: "(no-space)".
std::string code(gmm::Errc errc) { return "(" + std::string(gmm::errc_name(errc)) + ")"; }

bool process_gone(std::int64_t pid) {
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text;
  std::getline(cmdline, text);
  return text.empty();  // no such process, or a zombie
}

gmm::UniqueFd connected(const std::string& path) {
  auto socket = gmm::connect_unix(path);
  INFO((socket ? "" : socket.error().message));
  REQUIRE(socket);
  return std::move(*socket);
}

// A raw protocol connection, to send what gmmctl never would.
class RawClient {
 public:
  explicit RawClient(const std::string& path) : fd_(connected(path)), reader_(fd_.get()) {}
  void send(const std::string& bytes) const { REQUIRE(gmm::write_all(fd_.get(), bytes).ok()); }
  void finish_sending() const { ::shutdown(fd_.get(), SHUT_WR); }
  // The next reply line; "<eof>" if gmmd hung up, "<timeout>" after 60 s.
  std::string read_line() {
    auto read = reader_.next_line(gmm::Deadline(std::chrono::seconds(60)));
    switch (read.got) {
      case gmm::LineReader::Got::kLine: return read.text;
      case gmm::LineReader::Got::kTimedOut: return "<timeout>";
      case gmm::LineReader::Got::kClosed:
      case gmm::LineReader::Got::kTooLong:  // no limit here
      case gmm::LineReader::Got::kFailed: break;
    }
    return "<eof>";
  }
  json reply() {
    std::string line = read_line();
    INFO(line);
    REQUIRE(json::accept(line));
    return json::parse(line);
  }

 private:
  gmm::UniqueFd fd_;
  gmm::LineReader reader_;  // of fd_
};

}  // namespace

TEST_CASE("a 4-node process cluster allocates, shares and frees sections", "[e2e]") {
  TestCluster cluster(4, "64M");
  json record = cluster.record();
  CHECK(record["mode"] == "proc");
  REQUIRE(record["nodes"].size() == 4);
  std::string pool = record["pool"]["path"];
  CHECK(fs::exists(pool));

  ProcessResult status = cluster.host({"status", "--json"});
  INFO(describe(status));
  REQUIRE(status.status == 0);
  CHECK(json::parse(status.out)["healthy"] == true);

  CHECK_THAT(cluster.ctl_ok(0, {"alloc", "remote", "5000", "--on", "2"}), Catch::Contains("on node 2"));
  CHECK_THAT(cluster.ctl_ok(0, {"alloc", "local", "4K"}), Catch::Contains("on node 0"));
  cluster.ctl_ok(0, {"write", "remote", "100", "hello from node 0"});
  cluster.ctl_ok(0, {"write", "local", "0", "local bytes"});

  cluster.ctl_ok(3, {"open", "remote"});
  CHECK(cluster.ctl_ok(3, {"read", "remote", "100", "17"}) == "hello from node 0\n");
  CHECK(cluster.ctl_ok(3, {"read", "remote", "98", "6"}) == "..hell\n");  // zero bytes print as '.'
  cluster.ctl_ok(1, {"open", "local"});
  CHECK(cluster.ctl_ok(1, {"read", "local", "0", "11"}) == "local bytes\n");
  // Node 3 writes, node 0 sees it: one memory, not copies.
  cluster.ctl_ok(3, {"write", "remote", "0", "N3"});
  CHECK(cluster.ctl_ok(0, {"read", "remote", "0", "2"}) == "N3\n");

  json sections = json::parse(cluster.ctl_ok(1, {"ls", "--json"}));
  REQUIRE(sections.size() == 2);
  for (const json& section : sections) {
    if (section["name"] == "remote") {
      CHECK(section["home_node"] == 2);
      CHECK(section["size"] == 8192);  // 5000 rounded up to pages
      CHECK(section["sharer_nodes"] == json::array({0, 3}));
    } else {
      CHECK(section["name"] == "local");
      CHECK(section["home_node"] == 0);
      CHECK(section["sharer_nodes"] == json::array({0, 1}));
    }
  }
  std::string table = cluster.ctl_ok(2, {"ls"});
  CHECK_THAT(table, Catch::Contains("NAME") && Catch::Contains("remote") && Catch::Contains("0,3"));

  json partitions = json::parse(cluster.ctl_ok(0, {"stat", "--json"}));
  REQUIRE(partitions.size() == 4);
  CHECK(partitions[2]["used_bytes"] == 8192);
  CHECK(partitions[0]["used_bytes"] == 4096);
  CHECK(partitions[1]["used_bytes"] == 0);
  CHECK_THAT(cluster.ctl_ok(0, {"stat"}), Catch::Contains("FREE"));

  cluster.ctl_ok(3, {"close", "remote"});
  require_one_line_failure(cluster.ctl(3, {"read", "remote", "0", "1"}), "gmmctl open remote");
  cluster.ctl_ok(0, {"free", "remote"});
  cluster.ctl_ok(1, {"close", "local"});
  cluster.ctl_ok(0, {"free", "local"});
  CHECK(json::parse(cluster.ctl_ok(2, {"ls", "--json"})).empty());
  for (const json& partition : json::parse(cluster.ctl_ok(2, {"stat", "--json"}))) {
    CHECK(partition["used_bytes"] == 0);
  }

  ProcessResult fsck = cluster.host({"fsck", "--json"});
  INFO(describe(fsck));
  CHECK(fsck.status == 0);
  CHECK(json::parse(fsck.out)["clean"] == true);

  ProcessResult down = cluster.host({"down"});
  INFO(describe(down));
  REQUIRE(down.status == 0);
  cluster.mark_down();
  CHECK_FALSE(fs::exists(pool));
  CHECK_FALSE(fs::exists(cluster.dir() + "/cluster.json"));
  for (const json& node : record["nodes"]) {
    CHECK_FALSE(fs::exists(node["socket"].get<std::string>()));
    CHECK(process_gone(node["pid"].get<std::int64_t>()));
  }
  CHECK(cluster.host({"status"}).status != 0);
}

TEST_CASE("bad requests fail with one line and leave the pool clean", "[e2e]") {
  TestCluster cluster(4, "64M");
  cluster.ctl_ok(0, {"alloc", "kept", "4K"});

  require_one_line_failure(cluster.ctl(1, {"open", "no-such-name"}), "open no-such-name:");
  require_one_line_failure(cluster.ctl(0, {"alloc", "empty", "0"}), code(gmm::Errc::kInvalidArgument));
  require_one_line_failure(cluster.ctl(0, {"alloc", std::string(64, 'n'), "4K"}), code(gmm::Errc::kNameTooLong));
  require_one_line_failure(cluster.ctl(0, {"alloc", "kept", "4K"}), code(gmm::Errc::kExists));
  require_one_line_failure(cluster.ctl(0, {"alloc", "huge", "32M", "--on", "1"}), code(gmm::Errc::kNoSpace));
  require_one_line_failure(cluster.ctl(0, {"alloc", "huge", "32M", "--on", "any"}), code(gmm::Errc::kNoSpace));
  require_one_line_failure(cluster.ctl(0, {"alloc", "far", "4K", "--on", "9"}), "alloc far:");
  require_one_line_failure(cluster.ctl(0, {"alloc", "odd", "12Q"}), "invalid size \"12Q\"");
  require_one_line_failure(cluster.ctl(0, {"alloc", "odd", "4K", "--on", "north"}), "invalid --on");
  require_one_line_failure(cluster.ctl(0, {"read", "kept", "4090", "10"}), "past the end");
  require_one_line_failure(cluster.ctl(0, {"write", "kept", "4095", "ab"}), "past the end");
  require_one_line_failure(cluster.ctl(0, {"read", "kept", "0", "2M"}), "exceeds the limit");
  require_one_line_failure(cluster.ctl(2, {"read", "kept", "0", "1"}), "not open on node 2");
  require_one_line_failure(cluster.ctl(0, {"frobnicate"}), "gmmctl:");
  require_one_line_failure(run_process({GMM_GMMCTL_BIN, "--socket", cluster.dir() + "/nowhere.sock", "ping"}),
                           "cannot connect");

  cluster.ctl_ok(0, {"free", "kept"});
  require_one_line_failure(cluster.ctl(0, {"free", "kept"}), "free kept:");  // double free

  ProcessResult fsck = cluster.host({"fsck"});
  INFO(describe(fsck));
  CHECK(fsck.status == 0);
  CHECK_THAT(fsck.out, Catch::Contains("clean"));
}

TEST_CASE("gmmd survives malformed, oversized and stalled clients", "[e2e]") {
  TestCluster cluster(2, "32M");
  std::string socket = cluster.record()["nodes"][0]["socket"];

  RawClient stalled(socket);
  stalled.send("{\"op\":");  // never finished

  RawClient client(socket);
  for (const char* bad : {"garbage", "[1,2,3]", "{\"op\":\"launch\"}", "{\"op\":\"open\"}",
                          "{\"op\":\"read\",\"name\":\"x\",\"offset\":0,\"length\":99999999}"}) {
    client.send(std::string(bad) + "\n");
    json reply = client.reply();
    CHECK(reply["ok"] == false);
    CHECK(reply["error"] == gmm::errc_name(gmm::Errc::kInvalidArgument));
  }
  client.send("{\"op\":\"ping\"}\n");
  CHECK(client.reply()["node"] == 0);

  // Pipelined requests are answered in order.
  client.send("{\"op\":\"ping\"}\n{\"op\":\"nope\"}\n{\"op\":\"ping\"}\n");
  CHECK(client.reply()["ok"] == true);
  CHECK(client.reply()["ok"] == false);
  CHECK(client.reply()["ok"] == true);

  {
    // A client that floods requests and never reads stalls only itself.
    RawClient flooder(socket);
    std::string burst;
    for (int i = 0; i < 2000; ++i) burst += "{\"op\":\"ls\"}\n";
    flooder.send(burst);
    client.send("{\"op\":\"ping\"}\n");
    CHECK(client.reply()["ok"] == true);
  }

  RawClient oversized(socket);
  oversized.send(std::string(70 * 1024, 'x'));
  json refusal = oversized.reply();
  CHECK(refusal["ok"] == false);
  CHECK_THAT(refusal["message"].get<std::string>(), Catch::Contains("longer than"));
  CHECK(oversized.read_line() == "<eof>");

  RawClient half_closed(socket);
  half_closed.send("{\"op\":\"ping\"}");  // no newline, then EOF
  half_closed.finish_sending();
  CHECK(half_closed.reply()["ok"] == true);

  CHECK(cluster.ctl(0, {"ping"}).status == 0);
  CHECK(cluster.host({"status"}).status == 0);
}

TEST_CASE("clusters are refused twice in one directory but coexist in two", "[e2e]") {
  TestCluster first(2, "32M");
  ProcessResult again = first.host({"up", "--mode", "proc", "--nodes", "2", "--pool-size", "32M"});
  INFO(describe(again));
  CHECK(again.status != 0);
  CHECK_THAT(again.err, Catch::Contains("already running"));

  TestCluster second(2, "32M");
  CHECK(first.record()["pool"]["path"] != second.record()["pool"]["path"]);
  first.ctl_ok(0, {"alloc", "only-in-first", "4K"});
  require_one_line_failure(second.ctl(0, {"open", "only-in-first"}), "open only-in-first:");

  // A second gmmd on a live socket refuses before touching the pool.
  json node0 = first.record()["nodes"][0];
  ProcessResult intruder = run_process({kGmmd, "--node", "0", "--pool", first.record()["pool"]["path"], "--socket",
                                        node0["socket"]});
  INFO(describe(intruder));
  CHECK(intruder.status != 0);
  CHECK_THAT(intruder.err, Catch::Contains("already serving"));
  CHECK(first.ctl(0, {"ping"}).status == 0);
}

TEST_CASE("exec sets the node's environment and passes the exit status", "[e2e]") {
  TestCluster cluster(2, "32M");
  ProcessResult env = cluster.host({"exec", "1", "--", "sh", "-c", "echo \"$GMM_NODE $GMM_SOCKET $GMM_POOL\""});
  INFO(describe(env));
  REQUIRE(env.status == 0);
  json record = cluster.record();
  CHECK(env.out == "1 " + record["nodes"][1]["socket"].get<std::string>() + " " +
                       record["pool"]["path"].get<std::string>() + "\n");
  CHECK(cluster.host({"exec", "0", "--", "sh", "-c", "exit 7"}).status == 7);
  CHECK(cluster.host({"exec", "5", "--", "true"}).status != 0);
}

TEST_CASE("gmmctl sends messages and a watcher of message kinds prints them", "[e2e]") {
  TestCluster cluster(3, "32M");
  std::atomic<bool> watched_one{false};
  ProcessResult watched;
  std::thread watcher([&] {
    watched = cluster.ctl(2, {"watch", "--event", "message", "--count", "1", "--timeout", "120"});
    watched_one = true;
  });
  // A message reaches only watchers already listening (the rest are read
  // and dropped), so send until the watcher has printed one.
  for (int round = 0; round < 600 && !watched_one; ++round) {
    CHECK(cluster.ctl_ok(0, {"send", "1,2", "1024", "hello"}) == "sent kind 1024 to node(s) 1, 2\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  watcher.join();
  INFO(describe(watched));
  REQUIRE(watched.status == 0);
  CHECK(watched.out == "message from node 0 kind 1024: hello\n");
  CHECK(cluster.ctl_ok(1, {"send", "all", "2000", "x"}) == "sent kind 2000 to node(s) 0, 1, 2\n");
  require_one_line_failure(cluster.ctl(0, {"send", "1,x", "1024", "hi"}), "invalid recipient \"x\"");
  require_one_line_failure(cluster.ctl(0, {"send", "1", "5", "hi"}), "application message kind");
  require_one_line_failure(cluster.ctl(0, {"watch", "--event", "bogus"}), "unknown event \"bogus\"");
}

TEST_CASE("console explains why it cannot attach", "[e2e]") {
  TestCluster cluster(2, "32M");
  ProcessResult proc = cluster.host({"console", "0", "--batch"});
  INFO(describe(proc));
  CHECK(proc.status == 1);
  CHECK(proc.err.find("process mode") != std::string::npos);
  ProcessResult no_terminal = cluster.host({"console", "0"});
  CHECK(no_terminal.status == 2);
  CHECK(no_terminal.err.find("not a terminal; to pipe commands use --batch") != std::string::npos);
  ProcessResult none = run_process({kHost, "--dir", "/nonexistent/gmm-cluster", "console", "0", "--batch"});
  CHECK(none.status == 1);
  CHECK(none.err.find("no cluster recorded") != std::string::npos);
}

TEST_CASE("a killed node is noticed and recovered from, and down still cleans up", "[e2e]") {
  TestCluster cluster(3, "32M");
  json record = cluster.record();
  cluster.ctl_ok(0, {"alloc", "shared", "4K", "--on", "2"});
  cluster.ctl_ok(1, {"open", "shared"});
  std::int64_t victim = record["nodes"][1]["pid"];
  REQUIRE(::kill(static_cast<pid_t>(victim), SIGKILL) == 0);

  // The survivors' heartbeat ring declares node 1 failed and recovery drops
  // its share (default detection: ~0.2 s; allow far more on a loaded machine).
  json sharers;
  for (int attempt = 0; attempt < 600; ++attempt) {
    sharers = json::parse(cluster.ctl_ok(0, {"ls", "--json"}))[0]["sharer_nodes"];
    if (sharers == json::array({0})) break;
    ::usleep(100 * 1000);
  }
  CHECK(sharers == json::array({0}));
  ProcessResult fsck = cluster.host({"fsck"});
  INFO(describe(fsck));
  CHECK(fsck.status == 0);

  ProcessResult status;
  for (int attempt = 0; attempt < 600; ++attempt) {  // until the kill has landed
    status = cluster.host({"status", "--json"});
    if (status.status != 0) break;
    ::usleep(100 * 1000);
  }
  INFO(describe(status));
  REQUIRE(status.status == 1);
  json nodes = json::parse(status.out)["nodes"];
  CHECK(nodes[0]["alive"] == true);
  CHECK(nodes[1]["alive"] == false);
  CHECK(nodes[1]["answering"] == false);

  ProcessResult down = cluster.host({"down"});
  INFO(describe(down));
  REQUIRE(down.status == 0);
  cluster.mark_down();
  CHECK_FALSE(fs::exists(record["pool"]["path"].get<std::string>()));
  CHECK_FALSE(fs::exists(record["nodes"][1]["socket"].get<std::string>()));
}

TEST_CASE("up and fsck explain what is wrong", "[e2e]") {
  char pattern[] = "/tmp/gmm-e2e-XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  ProcessResult small = run_process({kHost, "--dir", dir, "up", "--mode", "proc", "--nodes", "4", "--pool-size", "1M"});
  INFO(describe(small));
  CHECK(small.status != 0);
  CHECK_THAT(small.err, Catch::Contains("too small"));
  CHECK_FALSE(fs::exists(dir + "/cluster.json"));

  // VM mode: the pool is a PCI BAR, so its size is a power of two (refused
  // before anything starts).
  ProcessResult vm = run_process({kHost, "--dir", dir, "up", "--mode", "vm", "--nodes", "2", "--pool-size", "48M"});
  INFO(describe(vm));
  CHECK(vm.status != 0);
  CHECK_THAT(vm.err, Catch::Contains("not a power of two"));
  CHECK_FALSE(fs::exists(dir + "/cluster.json"));
  ProcessResult mode = run_process({kHost, "--dir", dir, "up", "--mode", "xen", "--nodes", "2", "--pool-size", "32M"});
  CHECK(mode.status == 2);
  CHECK_THAT(mode.err, Catch::Contains("--mode xen"));

  std::ofstream(dir + "/not-a-pool").write(std::string(1 << 20, '\0').data(), 1 << 20);
  ProcessResult fsck = run_process({kHost, "--dir", dir, "fsck", "--pool", dir + "/not-a-pool"});
  INFO(describe(fsck));
  CHECK(fsck.status == 2);
  CHECK_THAT(fsck.err, Catch::Contains("cannot attach"));

  ProcessResult no_cluster = run_process({kHost, "--dir", dir, "fsck"});
  CHECK(no_cluster.status == 2);
  CHECK_THAT(no_cluster.err, Catch::Contains("no cluster recorded"));
  CHECK(run_process({kHost, "--dir", dir, "down"}).status == 0);  // nothing to stop is fine

  std::error_code ignored;
  fs::remove_all(dir, ignored);
}
