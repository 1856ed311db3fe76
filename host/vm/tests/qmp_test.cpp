// QmpClient against a scripted fake QMP server, and against a real paused
// QEMU ([qemu]).
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "io/unix_socket.hpp"
#include "process.hpp"
#include "qmp.hpp"
#include "vm_test_support.hpp"

using namespace gmm::host::vm;
using namespace std::chrono_literals;
using gmm::UniqueFd;
using nlohmann::json;

namespace {

// Reads one request line from the client.
json read_request(int fd) {
  std::string line;
  char c;
  while (::recv(fd, &c, 1, 0) == 1 && c != '\n') line += c;
  return json::parse(line);
}

}  // namespace

TEST_CASE("QMP client: handshake, answers matched by id, events queued, errors", "[qmp]") {
  test::TempDir dir;
  const std::string path = dir.path + "/qmp";
  auto listener = gmm::listen_unix(path);
  REQUIRE(listener);
  std::vector<json> requests;
  std::thread fake([&] {
    while (!gmm::wait_readable(listener->get(), 100ms).value()) {
    }
    UniqueFd conn(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    (void)gmm::write_all(conn.get(), R"({"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": ["oob"]}})" "\r\n");
    json r = read_request(conn.get());
    requests.push_back(r);
    (void)gmm::write_all(conn.get(), json({{"return", json::object()}, {"id", r["id"]}}).dump() + "\r\n");
    r = read_request(conn.get());  // query-status: an event comes first
    requests.push_back(r);
    (void)gmm::write_all(conn.get(), R"({"timestamp": {"seconds": 1700000000, "microseconds": 250000}, "event": "STOP"})" "\n");
    (void)gmm::write_all(conn.get(), json({{"return", {{"status", "paused"}, {"running", false}}}, {"id", r["id"]}}).dump() + "\n");
    r = read_request(conn.get());
    requests.push_back(r);
    (void)gmm::write_all(conn.get(), json({{"error", {{"class", "CommandNotFound"}, {"desc", "The command nope has not been found"}}},
                                      {"id", r["id"]}}).dump() + "\n");
    (void)gmm::write_all(conn.get(), R"({"timestamp": {"seconds": 1700000001, "microseconds": 5}, "event": "GUEST_PANICKED", "data": {"action": "pause", "info": {"type": "hyper-v"}}})" "\n");
    std::this_thread::sleep_for(200ms);
  });

  auto qmp = QmpClient::connect(path, 5s);
  REQUIRE(qmp);
  CHECK(qmp->greeting()["QMP"]["version"]["qemu"]["major"] == 7);
  CHECK(qmp->status().value() == "paused");
  auto nope = qmp->execute("nope");
  REQUIRE_FALSE(nope);
  CHECK(nope.error().message == "QMP nope: CommandNotFound: The command nope has not been found");

  auto stop = qmp->next_event(1s);  // queued while query-status waited
  REQUIRE(stop);
  REQUIRE(*stop);
  CHECK((*stop)->name == "STOP");
  CHECK((*stop)->seconds == 1700000000);
  CHECK((*stop)->microseconds == 250000);
  CHECK((*stop)->unix_time() == Approx(1700000000.25));
  auto panic = qmp->wait_event("GUEST_PANICKED", 2s);
  REQUIRE(panic);
  CHECK(panic->data["action"] == "pause");
  CHECK(panic->seconds == 1700000001);
  auto closed = qmp->next_event(2s);  // the fake hangs up
  fake.join();
  CHECK_FALSE(closed);

  REQUIRE(requests.size() == 3);
  CHECK(requests[0]["execute"] == "qmp_capabilities");
  CHECK(requests[1]["execute"] == "query-status");
  CHECK(requests[1]["id"] != requests[0]["id"]);
}

TEST_CASE("QMP client: read_events takes what has arrived, keeps a cut line, then reports the close", "[qmp]") {
  test::TempDir dir;
  const std::string path = dir.path + "/qmp";
  auto listener = gmm::listen_unix(path);
  REQUIRE(listener);
  std::atomic<int> step{0};
  std::thread fake([&] {
    while (!gmm::wait_readable(listener->get(), 100ms).value()) {
    }
    UniqueFd conn(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    (void)gmm::write_all(conn.get(), R"({"QMP": {"version": {"qemu": {"major": 7}}}})" "\n");
    json r = read_request(conn.get());
    (void)gmm::write_all(conn.get(), json({{"return", json::object()}, {"id", r["id"]}}).dump() + "\n");
    // Two events and the first half of a third in one write.
    (void)gmm::write_all(conn.get(), R"({"timestamp": {"seconds": 1700000000, "microseconds": 1}, "event": "STOP"})" "\n"
                                     R"({"timestamp": {"seconds": 1700000000, "microseconds": 2}, "event": "RESUME"})" "\n"
                                     R"({"timestamp": {"seconds": 1700000000, "micro)");
    while (step < 1) std::this_thread::sleep_for(1ms);
    (void)gmm::write_all(conn.get(), R"(seconds": 3}, "event": "GUEST_PANICKED", "data": {"action": "pause"}})" "\n"
                                     R"({"return": {}, "id": 99})" "\n");
    while (step < 2) std::this_thread::sleep_for(1ms);
  });

  auto qmp = QmpClient::connect(path, 5s);
  REQUIRE(qmp);
  std::vector<QmpEvent> got;
  for (;;) {  // connect() may have read some along with its answer; the rest comes on the socket
    auto events = qmp->read_events();
    REQUIRE(events);
    got.insert(got.end(), events->begin(), events->end());
    if (got.size() >= 2) break;
    REQUIRE(gmm::wait_readable(qmp->fd(), 5s).value());
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0].name == "STOP");
  CHECK(got[1].name == "RESUME");
  CHECK(got[1].microseconds == 2);
  auto nothing_yet = qmp->read_events();  // the third is cut: nothing, and no waiting
  REQUIRE(nothing_yet);
  CHECK(nothing_yet->empty());

  step = 1;
  got.clear();
  while (got.empty()) {
    REQUIRE(gmm::wait_readable(qmp->fd(), 5s).value());
    auto events = qmp->read_events();
    REQUIRE(events);
    got = *events;  // the reply to id 99 is no event
  }
  REQUIRE(got.size() == 1);
  CHECK(got[0].name == "GUEST_PANICKED");
  CHECK(got[0].microseconds == 3);
  CHECK(got[0].data["action"] == "pause");

  step = 2;
  fake.join();  // hangs up
  REQUIRE(gmm::wait_readable(qmp->fd(), 5s).value());
  auto closed = qmp->read_events();
  REQUIRE_FALSE(closed);
  CHECK_THAT(closed.error().message, Catch::Contains("connection closed"));
}

TEST_CASE("QMP client: a paused QEMU: status, cont/stop with RESUME/STOP, quit with SHUTDOWN", "[qmp][qemu]") {
  // Never a silent skip: a VM test that cannot start QEMU fails and says why.
  if (!test::qemu_available()) FAIL("qemu-system-x86_64 is not installed (make test installs it: ansible/packages-build.txt)");
  test::TempDir dir;
  const std::string path = dir.path + "/qmp";
  auto pid = spawn_process({"qemu-system-x86_64", "-accel", "tcg", "-M", "pc", "-nodefaults", "-display", "none", "-S",
                            "-qmp", "unix:" + path + ",server=on,wait=off"},
                           {.output = dir.path + "/qemu.log", .nice = 5, .die_with_parent = true});
  REQUIRE(pid);
  auto qmp = QmpClient::connect(path, 30s);
  if (!qmp) stop_process(*pid, 1s);
  REQUIRE(qmp);
  CHECK(qmp->greeting()["QMP"]["version"]["qemu"]["major"] >= 7);
  CHECK(qmp->status().value() == "prelaunch");

  const auto before = std::chrono::system_clock::now();
  REQUIRE(qmp->execute("cont"));
  auto resume = qmp->wait_event("RESUME", 10s);
  REQUIRE(resume);
  // QEMU's timestamp is the host's wall clock.
  const double now = std::chrono::duration<double>(before.time_since_epoch()).count();
  CHECK(resume->unix_time() == Approx(now).margin(5.0));
  CHECK(qmp->status().value() == "running");  // no firmware to run: SeaBIOS spins, fine

  REQUIRE(qmp->execute("stop"));
  REQUIRE(qmp->wait_event("STOP", 10s));
  CHECK(qmp->status().value() == "paused");
  auto bad = qmp->execute("no-such-command");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("CommandNotFound") != std::string::npos);

  REQUIRE(qmp->execute("quit"));
  auto shutdown = qmp->wait_event("SHUTDOWN", 10s);
  REQUIRE(shutdown);
  CHECK(shutdown->data["reason"] == "host-qmp-quit");
  CHECK(wait_process(*pid, 20s) == 0);
}
