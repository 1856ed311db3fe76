#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "cluster/cluster.hpp"
#include "cluster/faults.hpp"

namespace fs = std::filesystem;
using gmm::host::Cluster;

namespace {

struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/gmm-cluster-test-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};

Cluster sample_cluster(const std::string& dir) {
  Cluster cluster;
  cluster.dir = dir;
  cluster.pool_path = "/dev/shm/gmm-pool-x";
  cluster.pool_size = 256ull << 20;
  cluster.membership = {20, 7, 500};
  cluster.binaries = {"/b/gmmd", "/b/gmmctl"};
  cluster.started_unix = 1700000000;
  cluster.nodes = {{0, dir + "/node0.sock", dir + "/node0.log", 100, "", false, "", "", ""},
                   {1, dir + "/node1.sock", dir + "/node1.log", 101, "alloc.committing:2", true, "", "", ""}};
  return cluster;
}

}  // namespace

TEST_CASE("a cluster record survives save and load", "[cluster]") {
  TempDir dir;
  Cluster saved = sample_cluster(dir.path);
  REQUIRE(gmm::host::save_cluster(saved).ok());
  auto loaded = gmm::host::load_cluster(dir.path);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->has_value());
  const Cluster& cluster = **loaded;
  CHECK(cluster.mode == gmm::host::Mode::kProc);
  CHECK(cluster.pool_path == saved.pool_path);
  CHECK(cluster.pool_size == saved.pool_size);
  CHECK(cluster.binaries.gmmctl == "/b/gmmctl");
  CHECK(cluster.membership.heartbeat_ms == 20);
  CHECK(cluster.membership.miss_threshold == 7);
  CHECK(cluster.membership.leave_grace_ms == 500);
  REQUIRE(cluster.nodes.size() == 2);
  CHECK(cluster.nodes[1].socket == dir.path + "/node1.sock");
  CHECK(cluster.nodes[1].pid == 101);
  CHECK(cluster.nodes[0].crash_at.empty());
  CHECK_FALSE(cluster.nodes[0].left);
  CHECK(cluster.nodes[1].crash_at == "alloc.committing:2");
  CHECK(cluster.nodes[1].left);
  CHECK(gmm::host::cluster_json(cluster)["mode"] == "proc");
}

TEST_CASE("no record, or a corrupt one, is told apart", "[cluster]") {
  TempDir dir;
  auto none = gmm::host::load_cluster(dir.path);
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  std::ofstream(dir.path + "/cluster.json") << "{\"mode\": \"proc\"";
  auto corrupt = gmm::host::load_cluster(dir.path);
  REQUIRE_FALSE(corrupt.ok());
  CHECK_THAT(corrupt.error().message, Catch::Contains("cluster.json"));

  std::ofstream(dir.path + "/cluster.json") << R"({"mode": "warp"})";
  auto unknown_mode = gmm::host::load_cluster(dir.path);
  REQUIRE_FALSE(unknown_mode.ok());
  CHECK_THAT(unknown_mode.error().message, Catch::Contains("unknown mode"));
}

TEST_CASE("pool paths differ per cluster directory and stay stable", "[cluster]") {
  std::string a = gmm::host::default_pool_path("/tmp/cluster-a");
  CHECK(a == gmm::host::default_pool_path("/tmp/cluster-a/"));
  CHECK(a == gmm::host::default_pool_path("/tmp/x/../cluster-a"));
  CHECK(a != gmm::host::default_pool_path("/tmp/cluster-b"));
  CHECK(a != gmm::host::default_pool_path("/var/cluster-a"));
  CHECK(a.rfind("/dev/shm/gmm-pool-cluster-a-", 0) == 0);
}

TEST_CASE("modes are named", "[cluster]") {
  CHECK(gmm::host::parse_mode("proc") == gmm::host::Mode::kProc);
  CHECK(gmm::host::parse_mode("vm") == gmm::host::Mode::kVm);
  CHECK_FALSE(gmm::host::parse_mode("kvm").has_value());
  CHECK(gmm::host::mode_name(gmm::host::Mode::kProc) == "proc");
  CHECK(gmm::host::mode_name(gmm::host::Mode::kVm) == "vm");
}

TEST_CASE("a VM record keeps its VM fields and a process record has none", "[cluster]") {
  TempDir dir;
  Cluster vm = sample_cluster(dir.path);
  vm.mode = gmm::host::Mode::kVm;
  vm.vm = {4242, dir.path + "/ivshmem-server.log", "tcg", "/b/image", "/b", "/b/gmm-ivshmem-server"};
  for (auto& node : vm.nodes) {
    node.qmp = dir.path + "/node" + std::to_string(node.id) + ".qmp";
    node.ctl = dir.path + "/node" + std::to_string(node.id) + ".ctl";
    node.qemu_log = dir.path + "/node" + std::to_string(node.id) + ".qemu.log";
  }
  nlohmann::json record = gmm::host::cluster_json(vm);
  CHECK(record["mode"] == "vm");
  CHECK(record["vm"].size() == 6);
  CHECK(record["vm"]["accel"] == "tcg");
  CHECK(record["nodes"][1]["qmp"] == dir.path + "/node1.qmp");
  auto loaded = gmm::host::cluster_from_json(record);
  REQUIRE(loaded);
  CHECK(loaded->vm.image_dir == "/b/image");
  CHECK(loaded->nodes[1].ctl == dir.path + "/node1.ctl");
  CHECK(gmm::host::cluster_json(*loaded) == record);

  Cluster proc = sample_cluster(dir.path);
  CHECK_FALSE(gmm::host::cluster_json(proc).contains("vm"));  // no doorbell server recorded
  proc.vm.server_pid = 4242;
  proc.vm.server_log = dir.path + "/ivshmem-server.log";
  proc.vm.ivshmem_server = "/b/gmm-ivshmem-server";
  record = gmm::host::cluster_json(proc);
  CHECK(record["vm"] == nlohmann::json{{"server_pid", 4242},
                                       {"server_log", dir.path + "/ivshmem-server.log"},
                                       {"ivshmem_server", "/b/gmm-ivshmem-server"}});
  CHECK_FALSE(record["nodes"][0].contains("qmp"));
}

TEST_CASE("an injection is matched to its failure on the host's clock", "[cluster]") {
  using gmm::host::Injection;
  gmm::layout::RecoveryRecord record{};
  record.node = 1;
  record.incarnation = 3;
  Injection kill{};
  kill.node = 1;
  kill.incarnation = 3;
  kill.injected_ns = 1'000'000'000;
  const std::vector<Injection> injections{kill};

  SECTION("a guest clock behind the host's, with the watcher's host-clock time") {
    record.declared_ns = kill.injected_ns - 30'000'000;  // the guest's clock runs 30 ms behind
    record.host_seen_ns = kill.injected_ns + 8'000'000;
    REQUIRE(gmm::host::injection_for(injections, record).has_value());
  }
  SECTION("one clock (process mode, no watcher)") {
    record.declared_ns = kill.injected_ns + 500'000'000;
    CHECK(gmm::host::injection_for(injections, record).has_value());
    record.declared_ns = kill.injected_ns - 1;  // declared before the host did anything: not its doing
    CHECK_FALSE(gmm::host::injection_for(injections, record).has_value());
  }
  SECTION("another incarnation") {
    record.incarnation = 4;
    record.declared_ns = kill.injected_ns + 1;
    CHECK_FALSE(gmm::host::injection_for(injections, record).has_value());
  }
}
