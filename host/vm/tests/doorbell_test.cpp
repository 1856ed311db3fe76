// gmmd's process-mode doorbell (gmm::ivshmem::ClientDoorbell) between
// clients of a real gmm-ivshmem-server process, as gmm-host runs it.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "gmm/messages.hpp"
#include "ivshmem/ivshmem_doorbell.hpp"
#include "process.hpp"
#include "vm_test_support.hpp"

using namespace gmm::host::vm;
using namespace std::chrono_literals;
using gmm::ivshmem::ClientDoorbell;

namespace {

// The server on a pool file of a size QEMU would refuse (process mode needs
// none): fixed sockets for nodes 0, 1 and 2, killed at scope end.
struct ServerProcess {
  explicit ServerProcess(const test::TempDir& dir) : dir_(dir.path) {
    test::make_file(dir_ + "/pool", 3 << 20);
    auto pid = spawn_process({GMM_IVSHMEM_SERVER_BIN, "--shm", dir_ + "/pool", "--vectors", "2", "--retain-peers",
                              "--any-size", "--peer", "0=" + socket(0), "--peer", "1=" + socket(1), "--peer",
                              "2=" + socket(2)},
                             {.output = dir_ + "/server.log", .die_with_parent = true});
    REQUIRE(pid);
    pid_ = *pid;
  }
  ~ServerProcess() { stop_process(pid_, 5s); }
  std::string socket(std::uint32_t node) const { return dir_ + "/node" + std::to_string(node) + ".ivshmem"; }

  // Retries while the server is still binding its sockets.
  std::unique_ptr<ClientDoorbell> connect(std::uint32_t node, std::uint16_t expected) const {
    for (int attempt = 0;; ++attempt) {
      auto doorbell = ClientDoorbell::connect(socket(node), expected);
      if (doorbell) return std::move(*doorbell);
      INFO(doorbell.error().message);
      REQUIRE(attempt < 250);
      std::this_thread::sleep_for(20ms);
    }
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// The server announces a new peer to the others a moment after its welcome:
// wait (which applies announcements) until `doorbell` knows `peer`.
void await_peer(ClientDoorbell& doorbell, std::uint16_t peer) {
  for (int attempt = 0;; ++attempt) {
    auto peers = doorbell.peers();
    if (std::find(peers.begin(), peers.end(), peer) != peers.end()) return;
    REQUIRE(attempt < 500);
    REQUIRE_FALSE(doorbell.wait(20ms));  // nobody rings it meanwhile
  }
}

}  // namespace

TEST_CASE("doorbell: two clients of gmm-ivshmem-server ring and wake each other", "[doorbell]") {
  test::TempDir dir;
  ServerProcess server(dir);
  auto node0 = server.connect(0, 0);
  auto node1 = server.connect(1, 1);
  CHECK(node0->id() == 0);
  CHECK(node1->id() == 1);
  await_peer(*node0, 1);

  node0->ring(1, gmm::kDoorbellVector);
  CHECK(node1->wait(10s));           // rung: returns at once
  CHECK_FALSE(node1->wait(0us));     // drained by the wait above
  node1->ring(0, 1);                 // the other vector wakes it too
  CHECK(node0->wait(10s));

  // A node that connects later is announced to the others.
  auto node2 = server.connect(2, 2);
  await_peer(*node0, 2);
  node0->ring(2, gmm::kDoorbellVector);
  CHECK(node2->wait(10s));

  // Its own doorbell ends a node's wait (gmmd's stop does this).
  std::thread ringer([&] { node1->ring(1, gmm::kDoorbellVector); });
  CHECK(node1->wait(10s));
  ringer.join();
}

TEST_CASE("doorbell: a killed peer's eventfds go to its successor on the same socket", "[doorbell]") {
  test::TempDir dir;
  ServerProcess server(dir);
  auto node0 = server.connect(0, 0);
  auto node1 = server.connect(1, 1);
  await_peer(*node0, 1);
  node1.reset();  // the node dies; --retain-peers keeps its eventfds
  node0->ring(1, gmm::kDoorbellVector);  // rings into the void, no error
  auto restarted = server.connect(1, 1);
  CHECK(restarted->wait(10s));  // the ring sent while it was down is waiting for it
  node0->ring(1, gmm::kDoorbellVector);
  CHECK(restarted->wait(10s));
}

TEST_CASE("doorbell: connecting on another node's socket fails with both ids", "[doorbell]") {
  test::TempDir dir;
  ServerProcess server(dir);
  auto node0 = server.connect(0, 0);
  auto wrong = ClientDoorbell::connect(server.socket(1), 2);
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message.find("peer id 1, expected 2") != std::string::npos);
  // The id is taken while node 0 is connected: the server refuses a second one.
  auto twice = ClientDoorbell::connect(server.socket(0), 0);
  REQUIRE_FALSE(twice);
  CHECK(twice.error().message.find("closed the connection") != std::string::npos);
}

TEST_CASE("doorbell: no server at the socket is a clear error", "[doorbell]") {
  test::TempDir dir;
  auto missing = ClientDoorbell::connect(dir.path + "/none.ivshmem", 0, gmm::ivshmem::kGmmVectors, 200ms);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find(dir.path + "/none.ivshmem") != std::string::npos);
}
