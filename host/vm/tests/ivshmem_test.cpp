// The ivshmem server against our protocol client (the QEMU side of the
// protocol), and against a real QEMU ivshmem-doorbell device ([qemu]).
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "io/unix_socket.hpp"
#include "ivshmem/ivshmem_client.hpp"
#include "ivshmem/ivshmem_protocol.hpp"
#include "ivshmem_server.hpp"
#include "process.hpp"
#include "qmp.hpp"
#include "vm_test_support.hpp"

using namespace gmm::host::vm;
namespace ivshmem = gmm::ivshmem;
using namespace std::chrono_literals;
using gmm::host::vm::test::TempDir;
using gmm::UniqueFd;

namespace {

constexpr std::uint16_t kHost = 64;

// A server with fixed sockets for peers 0 and 1, an auto socket and host
// peer 64, served by a thread for the test's lifetime.
struct RunningServer {
  explicit RunningServer(const std::string& dir, std::uint64_t pool_size = 1 << 20, bool retain_peers = false) {
    pool = dir + "/pool";
    test::make_file(pool, pool_size);
    IvshmemServer::Options options;
    options.shm_path = pool;
    options.vectors = 2;
    options.listeners = {{dir + "/p0.sock", 0}, {dir + "/p1.sock", 1}, {dir + "/any.sock", std::nullopt}};
    options.host_peer = kHost;
    options.retain_peers = retain_peers;
    options.log = [this](std::string_view line) {
      std::lock_guard lock(log_mutex);
      log += std::string(line) + "\n";
    };
    auto created = IvshmemServer::create(options);
    REQUIRE(created);
    server = std::move(*created);
    loop = std::thread([this] { (void)server->run(); });  // (no Catch assertions off the main thread)
  }
  ~RunningServer() {
    server->stop();
    loop.join();
  }
  std::string log_text() {
    std::lock_guard lock(log_mutex);
    return log;
  }
  // Peers as the server sees them, once they settle to `expected` (connects
  // are served asynchronously).
  bool peers_become(const std::vector<std::uint16_t>& expected) {
    for (int i = 0; i < 250; ++i) {
      if (server->peers() == expected) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  std::string pool;
  std::unique_ptr<IvshmemServer> server;
  std::thread loop;
  std::mutex log_mutex;
  std::string log;
};

ivshmem::Client connect(const std::string& path) {
  auto client = ivshmem::Client::connect(path, 2, 5s);
  INFO(path);
  REQUIRE(client);
  return std::move(*client);
}

}  // namespace

TEST_CASE("ivshmem wire format: 8-byte little-endian numbers, fds by SCM_RIGHTS", "[ivshmem]") {
  int pair[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  UniqueFd a(pair[0]), b(pair[1]);
  auto efd = ivshmem::make_eventfd();
  REQUIRE(efd);
  REQUIRE(ivshmem::send_message(a.get(), -1, efd->get()));
  REQUIRE(ivshmem::send_message(a.get(), 0x0102030405060708));
  auto first = ivshmem::receive_message(b.get(), 1s);
  REQUIRE(first);
  REQUIRE(*first);
  CHECK((*first)->value == -1);
  REQUIRE((*first)->fd);
  REQUIRE(ivshmem::ring_eventfd((*first)->fd.get()));  // the same eventfd
  CHECK(ivshmem::drain_eventfd(efd->get()) == 1);
  auto second = ivshmem::receive_message(b.get(), 1s);
  REQUIRE(second);
  CHECK((*second)->value == 0x0102030405060708);
  CHECK_FALSE((*second)->fd);
  a.reset();
  auto eof = ivshmem::receive_message(b.get(), 1s);
  REQUIRE(eof);
  CHECK_FALSE(*eof);

  // Raw bytes: little-endian on the wire, whatever the host.
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  UniqueFd c(pair[0]), d(pair[1]);
  REQUIRE(ivshmem::send_message(c.get(), 258));
  unsigned char raw[8];
  REQUIRE(::read(d.get(), raw, 8) == 8);
  CHECK((raw[0] == 2 && raw[1] == 1 && raw[7] == 0));
}

// QEMU 7.2 corrupts its heap when a peer id reconnects after an announced
// disconnect: with retain_peers nobody is told, and the id's next client
// gets the eventfds the others still hold.
TEST_CASE("ivshmem server: retain_peers keeps a fixed peer's eventfds across a reconnect", "[ivshmem]") {
  TempDir dir;
  RunningServer s(dir.path, 1 << 20, /*retain_peers=*/true);
  ivshmem::Client a = connect(dir.path + "/p1.sock");
  ivshmem::Client b = connect(dir.path + "/p0.sock");
  REQUIRE(a.update(2s));
  CHECK(a.peers() == std::vector<std::uint16_t>{0, kHost});

  { ivshmem::Client gone = std::move(b); }
  CHECK(s.peers_become({0, 1, kHost}));  // 0 is retained
  // Give the server time to see the disconnect: it must not tell `a`.
  for (int i = 0; i < 100 && s.log_text().find("peer 0 disconnected (eventfds retained)") == std::string::npos; ++i)
    std::this_thread::sleep_for(20ms);
  CHECK(s.log_text().find("peer 0 disconnected (eventfds retained)") != std::string::npos);
  CHECK(a.update(100ms).value() == 0);

  ivshmem::Client again = connect(dir.path + "/p0.sock");
  CHECK(again.id() == 0);
  CHECK(again.peers() == std::vector<std::uint16_t>{1, kHost});
  CHECK(a.update(100ms).value() == 0);  // nothing new for `a` either
  REQUIRE(a.ring(0, 1));                // the eventfd `a` got long ago reaches the new client
  CHECK(again.wait(2s).value() == 0b10);
  REQUIRE(again.ring(1, 0));
  CHECK(a.wait(2s).value() == 0b01);
  CHECK(s.log_text().find("peer 0 reconnected") != std::string::npos);

  auto second = ivshmem::Client::connect(dir.path + "/p0.sock", 2, 5s);  // still one client per id
  CHECK_FALSE(second);
}

TEST_CASE("ivshmem server: ids by socket, the shm fd, peers announced both ways", "[ivshmem]") {
  TempDir dir;
  RunningServer s(dir.path);

  ivshmem::Client a = connect(dir.path + "/p1.sock");
  CHECK(a.id() == 1);
  CHECK(a.peers() == std::vector<std::uint16_t>{kHost});
  ivshmem::Client b = connect(dir.path + "/p0.sock");  // connection order does not matter
  CHECK(b.id() == 0);
  CHECK(b.peers() == std::vector<std::uint16_t>{1, kHost});
  REQUIRE(a.update(2s));
  CHECK(a.peers() == std::vector<std::uint16_t>{0, kHost});
  CHECK(s.peers_become({0, 1, kHost}));

  SECTION("every peer maps the same pool") {
    auto* pa = static_cast<std::uint64_t*>(::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, a.shm_fd(), 0));
    auto* pb = static_cast<std::uint64_t*>(::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, b.shm_fd(), 0));
    REQUIRE(pa != MAP_FAILED);
    REQUIRE(pb != MAP_FAILED);
    pa[100] = 0xfeedface;
    CHECK(pb[100] == 0xfeedface);
    ::munmap(pa, 1 << 20);
    ::munmap(pb, 1 << 20);
  }

  SECTION("doorbells: peer to peer, host to peer, peer to host") {
    REQUIRE(b.ring(1, 1));
    CHECK(a.wait(2s).value() == 0b10);
    CHECK(a.wait(50ms).value() == 0);  // drained
    REQUIRE(s.server->ring(0, 0));
    CHECK(b.wait(2s).value() == 0b01);
    REQUIRE(a.ring(kHost, 1));
    CHECK(s.server->wait_host(2s).value() == 0b10);
    CHECK(s.server->wait_host(50ms).value() == 0);
    CHECK(s.server->ring(7, 0).error().code == gmm::Errc::kNotFound);
    CHECK(s.server->ring(1, 2).error().code == gmm::Errc::kNotFound);
  }

  SECTION("a disconnect is announced as a bare id; the id can come back") {
    { ivshmem::Client gone = std::move(b); }
    REQUIRE(a.update(2s).value() == 1);
    CHECK(a.peers() == std::vector<std::uint16_t>{kHost});
    CHECK(s.peers_become({1, kHost}));
    ivshmem::Client again = connect(dir.path + "/p0.sock");
    CHECK(again.id() == 0);
    REQUIRE(a.update(2s).value() == 2);  // one message per vector
    REQUIRE(again.ring(1, 0));
    CHECK(a.wait(2s).value() == 0b01);
    CHECK(s.log_text().find("peer 0 disconnected") != std::string::npos);
  }

  SECTION("a second connection for a connected id is refused") {
    auto second = ivshmem::Client::connect(dir.path + "/p1.sock", 2, 5s);
    REQUIRE_FALSE(second);
    CHECK(second.error().message.find("closed the connection") != std::string::npos);
    CHECK(s.log_text().find("refused a second connection for peer 1") != std::string::npos);
    CHECK(a.update(100ms).value() == 0);  // nobody was told anything
  }

  SECTION("the auto socket gives the lowest id not connected nor reserved") {
    ivshmem::Client c = connect(dir.path + "/any.sock");
    CHECK(c.id() == 2);  // 0 and 1 belong to the fixed sockets, 64 to the host
    ivshmem::Client d = connect(dir.path + "/any.sock");
    CHECK(d.id() == 3);
    CHECK(d.peers() == std::vector<std::uint16_t>{0, 1, 2, kHost});
  }
}

TEST_CASE("ivshmem server: refuses what QEMU would trip over", "[ivshmem]") {
  TempDir dir;
  test::make_file(dir.path + "/odd", 3 << 20);
  IvshmemServer::Options options;
  options.shm_path = dir.path + "/odd";
  options.listeners = {{dir.path + "/s", 0}};
  auto odd = IvshmemServer::create(options);
  REQUIRE_FALSE(odd);
  CHECK(odd.error().message.find("power of two") != std::string::npos);

  test::make_file(dir.path + "/pool", 1 << 20);
  options.shm_path = dir.path + "/pool";
  options.listeners = {{dir.path + "/a", 0}, {dir.path + "/b", 0}};
  CHECK_FALSE(IvshmemServer::create(options));
  options.listeners = {{dir.path + "/a", 5}};
  options.host_peer = 5;
  CHECK_FALSE(IvshmemServer::create(options));
  options.listeners = {{dir.path + "/" + std::string(120, 'x'), 0}};
  options.host_peer.reset();
  auto long_path = IvshmemServer::create(options);
  REQUIRE_FALSE(long_path);
  CHECK(long_path.error().message.find("longer than 107") != std::string::npos);
}

TEST_CASE("ivshmem server: a real QEMU ivshmem-doorbell device connects, gets its id, leaves", "[ivshmem][qemu]") {
  // Never a silent skip: a VM test that cannot start QEMU fails and says why.
  if (!test::qemu_available()) FAIL("qemu-system-x86_64 is not installed (make test installs it: ansible/packages-build.txt)");
  TempDir dir;
  RunningServer s(dir.path, 4 << 20);
  ivshmem::Client watcher = connect(dir.path + "/p0.sock");

  const std::string qmp_path = dir.path + "/qmp";
  auto pid = spawn_process({"qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-nodefaults", "-display", "none", "-S",
                            "-qmp", "unix:" + qmp_path + ",server=on,wait=off", "-chardev",
                            "socket,id=ivsh,path=" + dir.path + "/p1.sock", "-device",
                            "ivshmem-doorbell,chardev=ivsh,vectors=2"},
                           {.output = dir.path + "/qemu.log", .nice = 5, .die_with_parent = true});
  REQUIRE(pid);
  auto qmp = QmpClient::connect(qmp_path, 30s);
  if (!qmp) {
    stop_process(*pid, 1s);
    FAIL(qmp.error().message);
  }
  // QEMU realized the device: it read version, id 1 and the shm (host peer 64
  // and peer 0 were announced to it) without complaint.
  CHECK(qmp->status().value() == "prelaunch");
  REQUIRE(watcher.update(5s).value() == 2);
  CHECK(watcher.peers() == std::vector<std::uint16_t>{1, kHost});
  CHECK(s.peers_become({0, 1, kHost}));
  REQUIRE(watcher.ring(1, 0));  // QEMU holds the eventfd (nothing to see while paused)

  REQUIRE(qmp->execute("quit"));
  CHECK(wait_process(*pid, 20s) == 0);
  REQUIRE(watcher.update(5s).value() == 1);
  CHECK(watcher.peers() == std::vector<std::uint16_t>{kHost});
  CHECK(s.log_text().find("peer 1 connected") != std::string::npos);
}
