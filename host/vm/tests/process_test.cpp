// spawn/wait/stop, and the gmm-ivshmem-server binary as the orchestrator
// runs it.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ivshmem/ivshmem_client.hpp"
#include "process.hpp"
#include "vm_test_support.hpp"

using namespace gmm::host::vm;
namespace ivshmem = gmm::ivshmem;
using namespace std::chrono_literals;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("spawn_process, wait_process, stop_process", "[process]") {
  test::TempDir dir;
  const std::string log = dir.path + "/out.log";
  auto three = spawn_process({"sh", "-c", "echo hi; echo err >&2; exit 3"}, {.output = log});
  REQUIRE(three);
  CHECK(wait_process(*three, 10s) == 3);
  CHECK(slurp(log) == "hi\nerr\n");

  auto missing = spawn_process({"/nonexistent/qemu"}, {.output = log});
  REQUIRE(missing);
  CHECK(wait_process(*missing, 10s) == 127);
  CHECK(slurp(log).find("exec failed: /nonexistent/qemu: No such file or directory") != std::string::npos);

  // (Output to the log: a leftover grandchild must not hold ctest's pipe.)
  auto sleeper = spawn_process({"sleep", "30"}, {.output = log});
  REQUIRE(sleeper);
  CHECK_FALSE(wait_process(*sleeper, 50ms));
  CHECK(stop_process(*sleeper, 5s) == 128 + SIGTERM);
  auto stubborn = spawn_process({"sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"}, {.output = log});
  REQUIRE(stubborn);
  std::this_thread::sleep_for(100ms);  // let it install the trap
  CHECK(stop_process(*stubborn, 200ms) == 128 + SIGKILL);
}

TEST_CASE("gmm-ivshmem-server: fixed ids, host peer doorbells logged, clean exit on SIGTERM", "[process][ivshmem]") {
  test::TempDir dir;
  const std::string pool = dir.path + "/pool", sock = dir.path + "/node3.ivshmem", log = dir.path + "/server.log";
  test::make_file(pool, 1 << 20);
  auto server = spawn_process({GMM_IVSHMEM_SERVER_BIN, "--shm", pool, "--peer", "3=" + sock, "--host-peer", "64"},
                              {.output = log, .die_with_parent = true});
  REQUIRE(server);
  std::optional<ivshmem::Client> client;
  for (int i = 0; i < 250 && !client; ++i) {
    auto c = ivshmem::Client::connect(sock, 2, 2s);
    if (c) client.emplace(std::move(*c));
    else std::this_thread::sleep_for(20ms);
  }
  REQUIRE(client);
  CHECK(client->id() == 3);
  CHECK(client->peers() == std::vector<std::uint16_t>{64});
  REQUIRE(client->ring(64, 1));
  std::string text;
  for (int i = 0; i < 100 && text.find("vector 1 rung") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    text = slurp(log);
  }
  CHECK(text.find("host peer 64: vector 1 rung (1x)") != std::string::npos);
  CHECK(text.find("peer 3 connected") != std::string::npos);
  ::kill(*server, SIGTERM);
  CHECK(wait_process(*server, 10s) == 0);
  CHECK_FALSE(std::filesystem::exists(sock));
  CHECK(slurp(log).find("ready\n") != std::string::npos);
}
