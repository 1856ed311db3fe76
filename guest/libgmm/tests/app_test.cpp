// libgmm against real gmmd processes (gmm-host up --mode proc): every call
// of gmm/app.hpp, the C header, same addresses across nodes, and cleanup of
// a client killed with SIGKILL.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmm/app.hpp"
#include "gmm/gmm_c.h"
#include "proto/client.hpp"
#include "test_cluster.hpp"

extern "C" int gmm_c_header_roundtrip(const char* socket_path);  // c_api_check.c
extern "C" int gmm_c_reconnect_before(const char* socket_path, gmm_session** out);
extern "C" int gmm_c_reconnect_after(gmm_session* session);
extern "C" int gmm_c_message_roundtrip(const char* sender_socket, const char* receiver_socket);

namespace {

using gmm::Errc;
using gmm::app::Access;
using gmm::app::CreateOptions;
using gmm::app::Section;
using gmm::app::Session;
using gmm::test::TestCluster;

constexpr std::size_t kSize = 64 * 1024;

std::string socket_of(const TestCluster& cluster, int node) {
  return cluster.dir() + "/node" + std::to_string(node) + ".sock";
}

Session connect(const TestCluster& cluster, int node) {
  auto session = Session::connect(socket_of(cluster, node));
  INFO((session ? "" : session.error().message));
  REQUIRE(session);
  return std::move(*session);
}

template <class T>
T must(gmm::Result<T> result) {
  INFO((result ? "" : result.error().message));
  REQUIRE(result);
  return std::move(*result);
}

void must(const gmm::Status& status) {
  INFO((status ? "" : status.error().message));
  REQUIRE(status);
}

template <class T>
void require_error(const gmm::Result<T>& result, Errc code) {
  REQUIRE_FALSE(result);
  INFO(result.error().message);
  CHECK(result.error().code == code);
}

// The permissions column of /proc/self/maps for the page at `address`: "rw-s", "---p", ...
std::string protection_of(const void* address) {
  auto at = reinterpret_cast<std::uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms;
    fields >> range >> perms;
    auto dash = range.find('-');
    auto start = std::stoull(range.substr(0, dash), nullptr, 16);
    auto end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (start <= at && at < end) return perms;
  }
  return "unmapped";
}

char* bytes(void* p, std::size_t offset = 0) { return static_cast<char*>(p) + offset; }

// Sharer entries of `name` as gmmd reports them.
std::uint32_t sharers_of(const TestCluster& cluster, const std::string& name) {
  auto client = must(gmm::proto::Client::connect(socket_of(cluster, 0)));
  gmm::proto::Request list;
  list.op = gmm::proto::Op::kList;
  auto reply = must(client.call(list, std::chrono::seconds(30)));
  for (const auto& section : reply["sections"])
    if (section["name"] == name) return section["sharers"].get<std::uint32_t>();
  return 0;
}

}  // namespace

TEST_CASE("libgmm reserve, acquire, map, unmap, remap in place and relinquish", "[app]") {
  TestCluster cluster(2, "64M");
  Session session = connect(cluster, 0);
  must(session.create("first", kSize));
  must(session.create("second", kSize, CreateOptions{CreateOptions::Where::kNode, 1, 0600}));
  Section first = must(session.acquire("first", Access::kWrite));
  Section second = must(session.acquire("second", Access::kWrite));
  CHECK(first.size == kSize);
  CHECK(first.writable);
  CHECK(second.home_node == 1);
  CHECK(first.global_address != second.global_address);

  void* range = must(session.reserve(2 * kSize));
  CHECK(protection_of(range) == "---p");

  SECTION("unmap keeps the reservation and the data") {
    must(session.map(range, kSize, first));
    CHECK(protection_of(range) == "rw-s");
    std::strcpy(bytes(range), "primary");
    must(session.unmap(range, kSize));
    CHECK(protection_of(range) == "---p");
    must(session.map(bytes(range, kSize), kSize, first));
    CHECK(std::string(bytes(range, kSize)) == "primary");
  }

  SECTION("a part of a section onto a part of the range") {
    must(session.map(range, kSize, first));
    std::strcpy(bytes(range, 8192), "page two");
    must(session.map(bytes(range, kSize), 4096, first, 8192));
    CHECK(std::string(bytes(range, kSize)) == "page two");
    CHECK(protection_of(bytes(range, kSize + 4096)) == "---p");
  }

  SECTION("remap in place promotes another section under the same pointers") {
    must(session.map(range, kSize, first));
    must(session.map(bytes(range, kSize), kSize, second));
    std::strcpy(bytes(range), "primary copy");
    std::strcpy(bytes(range, kSize), "secondary copy");
    const char* pointer = bytes(range);
    must(session.map(range, kSize, second));
    CHECK(std::string(pointer) == "secondary copy");
    // first is no longer mapped anywhere: it can go; second is still mapped.
    must(session.relinquish(first));
    require_error(session.relinquish(second), Errc::kBusy);
    must(session.unmap(range, 2 * kSize));
    must(session.relinquish(second));
    require_error(session.relinquish(second), Errc::kNotFound);
  }

  SECTION("bad ranges and handles are refused") {
    require_error(session.map(range, 2 * kSize, first), Errc::kInvalidArgument);  // past the section's end
    require_error(session.map(bytes(range, 4096), kSize, first, 4096), Errc::kInvalidArgument);
    char outside[1];
    require_error(session.map(outside, 4096, first), Errc::kInvalidArgument);  // not reserved
    require_error(session.unmap(outside, 4096), Errc::kInvalidArgument);
    require_error(session.reserve(4096, range), Errc::kExists);
    require_error(session.acquire("first", Access::kRead), Errc::kAlreadyOpen);
    require_error(session.acquire("nonexistent", Access::kRead), Errc::kNotFound);
    require_error(session.acquire_gid(0x0000000900000009ULL, Access::kRead), Errc::kNotFound);
    require_error(session.unreserve(bytes(range, 4096)), Errc::kNotFound);
  }

  SECTION("a read-only acquisition maps read-only") {
    Session reader = connect(cluster, 1);
    Section shared = must(reader.acquire_gid(first.gid, Access::kRead));
    CHECK_FALSE(shared.writable);
    CHECK(shared.global_address == first.global_address);
    void* view = must(reader.reserve(kSize));
    must(reader.map(view, kSize, shared));
    CHECK(protection_of(view) == "r--s");
  }

  must(session.unreserve(range));
  CHECK(protection_of(range) == "unmapped");
}

TEST_CASE("libgmm whoami reports the kernel's view of the caller", "[app]") {
  TestCluster cluster(1, "32M");
  Session session = connect(cluster, 0);
  auto me = must(session.whoami());
  CHECK(me.pid == ::getpid());
  CHECK(me.uid == ::getuid());
  CHECK(me.gid == ::getgid());
  CHECK(me.node == 0);
  CHECK(me.client >= 1);
}

TEST_CASE("libgmm C header works from C", "[app]") {
  TestCluster cluster(1, "32M");
  CHECK(gmm_c_header_roundtrip(socket_of(cluster, 0).c_str()) == 0);
}

namespace {

// A list with direct pointers, in a section at its global address.
struct ListNode {
  ListNode* next;
  std::uint64_t value;
};
constexpr int kListLength = 100;

// Child process bodies: exit status 0 on success, else the failing step.
[[noreturn]] void build_list(const std::string& socket) {
  auto session = Session::connect(socket);
  if (!session) _exit(10);
  if (!session->create("list", 1 << 20, CreateOptions{CreateOptions::Where::kNode, 2, 0644})) _exit(11);
  auto section = session->acquire("list", Access::kWrite);
  if (!section) _exit(12);
  auto base = session->map_global(*section);
  if (!base) _exit(13);
  auto* nodes = static_cast<ListNode*>(*base);
  // Built backwards through the section so the order is not the memory order.
  for (int i = 0; i < kListLength; ++i) {
    nodes[i + 1].value = static_cast<std::uint64_t>(i);
    nodes[i + 1].next = i == 0 ? nullptr : &nodes[i];
  }
  nodes[0].next = &nodes[kListLength];  // head
  _exit(0);
}

[[noreturn]] void walk_list(const std::string& socket) {
  auto session = Session::connect(socket);
  if (!session) _exit(20);
  auto section = session->acquire("list", Access::kRead);
  if (!section) _exit(21);
  auto base = session->map_global(*section);
  if (!base) _exit(22);
  int count = 0;
  std::uint64_t expected = kListLength - 1;
  for (const ListNode* n = static_cast<ListNode*>(*base)->next; n != nullptr; n = n->next, ++count, --expected) {
    if (n->value != expected) _exit(23);
  }
  _exit(count == kListLength ? 0 : 24);
}

// A client process on `node` that runs `take` (false: it could not) and then
// holds what it took until it is killed. Returns its pid once `take` is done;
// a client that failed makes the test fail here.
pid_t start_holder(const TestCluster& cluster, int node, const std::function<bool(Session&)>& take) {
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(ready[0]);
    auto session = Session::connect(socket_of(cluster, node));
    if (!session || !take(*session)) _exit(1);
    char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) _exit(2);
    ::pause();
    _exit(3);
  }
  ::close(ready[1]);
  char byte = 0;
  const bool took = ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  if (!took) ::waitpid(pid, nullptr, 0);
  REQUIRE(took);
  return pid;
}

int run_child(void (*body)(const std::string&), const std::string& socket) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) body(socket);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("a list with direct pointers built through node 1 is walked through node 3", "[app]") {
  TestCluster cluster(4, "64M");
  CHECK(run_child(build_list, socket_of(cluster, 1)) == 0);
  CHECK(run_child(walk_list, socket_of(cluster, 3)) == 0);
  cluster.require_clean();
}

TEST_CASE("a client killed with SIGKILL loses its handles and sharer entries", "[app][crash]") {
  TestCluster cluster(2, "64M");
  Session owner = connect(cluster, 0);
  must(owner.create("held", kSize, CreateOptions{CreateOptions::Where::kLocal, 0, 0666}));
  CHECK(sharers_of(cluster, "held") == 1);  // gmmd's own share from create

  pid_t pid = start_holder(cluster, 1, [](Session& session) {
    auto section = session.acquire("held", Access::kWrite);
    return section && session.map_global(*section);
  });
  CHECK(sharers_of(cluster, "held") == 2);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  // gmmd sees the hang-up and releases; poll until it has.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (sharers_of(cluster, "held") != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(sharers_of(cluster, "held") == 1);
  cluster.require_clean();
}

TEST_CASE("global mutexes: recursive, exclusive across nodes, abandoned when the holder is killed", "[app][crash]") {
  TestCluster cluster(2, "32M");
  Session a = connect(cluster, 0);
  Session b = connect(cluster, 1);
  must(a.create_mutex("m", 0666));
  require_error(b.create_mutex("m"), Errc::kExists);
  CHECK(must(a.lock_mutex("m")) == gmm::app::Wait::kAcquired);
  CHECK(must(a.lock_mutex("m")) == gmm::app::Wait::kAcquired);  // recursive
  CHECK(must(b.lock_mutex("m", std::chrono::milliseconds(0))) == gmm::app::Wait::kTimeout);
  require_error(b.unlock_mutex("m"), Errc::kPermission);
  must(a.unlock_mutex("m"));
  CHECK(must(b.lock_mutex("m", std::chrono::milliseconds(0))) == gmm::app::Wait::kTimeout);  // still held once
  must(a.unlock_mutex("m"));
  CHECK(must(b.lock_mutex("m", std::chrono::milliseconds(0))) == gmm::app::Wait::kAcquired);
  must(b.unlock_mutex("m"));

  // A process on node 1 dies holding it: the next locker, on node 0, is told.
  pid_t pid = start_holder(cluster, 1, [](Session& holder) { return bool(holder.lock_mutex("m")); });
  CHECK(must(a.lock_mutex("m", std::chrono::milliseconds(0))) == gmm::app::Wait::kTimeout);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  CHECK(must(a.lock_mutex("m", std::chrono::seconds(60))) == gmm::app::Wait::kAbandoned);
  must(a.unlock_mutex("m"));
  CHECK(must(a.lock_mutex("m")) == gmm::app::Wait::kAcquired);  // told once
  must(a.unlock_mutex("m"));
  must(a.destroy_sync("m"));
  require_error(a.lock_mutex("m"), Errc::kNotFound);
  cluster.require_clean();
}

TEST_CASE("a global mutex whose holder's node dies is abandoned", "[app][crash]") {
  TestCluster cluster(3, "32M");
  Session on_two = connect(cluster, 2);
  must(on_two.create_mutex("n", 0666));
  CHECK(must(on_two.lock_mutex("n")) == gmm::app::Wait::kAcquired);
  Session on_zero = connect(cluster, 0);
  CHECK(must(on_zero.lock_mutex("n", std::chrono::milliseconds(0))) == gmm::app::Wait::kTimeout);
  cluster.host_ok({"crash", "2", "--how", "kill"});
  CHECK(must(on_zero.lock_mutex("n", std::chrono::seconds(60))) == gmm::app::Wait::kAbandoned);
  must(on_zero.unlock_mutex("n"));
  cluster.require_clean();
}

TEST_CASE("global events: auto-reset wakes one waiter, manual-reset stays set", "[app]") {
  TestCluster cluster(2, "32M");
  Session a = connect(cluster, 0);
  Session b = connect(cluster, 1);
  must(a.create_event("auto", false, false, 0666));
  must(a.create_event("manual", true, false, 0666));
  using gmm::app::Wait;
  constexpr std::chrono::milliseconds kNow(0);
  CHECK(must(b.wait_event("auto", kNow)) == Wait::kTimeout);
  must(a.set_event("auto"));
  CHECK(must(b.wait_event("auto", kNow)) == Wait::kAcquired);
  CHECK(must(a.wait_event("auto", kNow)) == Wait::kTimeout);  // taken by b
  must(b.set_event("manual"));
  CHECK(must(a.wait_event("manual", kNow)) == Wait::kAcquired);
  CHECK(must(b.wait_event("manual", kNow)) == Wait::kAcquired);
  must(a.reset_event("manual"));
  CHECK(must(b.wait_event("manual", kNow)) == Wait::kTimeout);
  // A waiter blocked in wait_event is released by a set from the other node.
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)a.set_event("auto");
  });
  CHECK(must(b.wait_event("auto", std::chrono::seconds(60))) == Wait::kAcquired);
  setter.join();
  require_error(a.wait_event("m", kNow), Errc::kNotFound);
  require_error(a.create_mutex("auto"), Errc::kExists);  // one namespace for mutexes and events
  must(a.destroy_sync("auto"));
  must(a.destroy_sync("manual"));
}

namespace {

constexpr uid_t kNobody = 65534;

// Runs as uid/gid 65534 against both nodes; exit status = first failed step.
[[noreturn]] void unprivileged_client(const TestCluster& cluster) {
  if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) _exit(90);
  std::string first_message;
  int step = 0;
  auto denied = [&](const auto& result) {
    ++step;
    if (result || result.error().code != Errc::kPermission) _exit(step);
    if (result.error().message.find("permission denied: uid 65534") == std::string::npos) _exit(50 + step);
  };
  auto allowed = [&](const auto& result) {
    ++step;
    if (!result) _exit(step);
  };
  std::string messages[2];
  for (int node = 0; node < 2; ++node) {
    step = node * 20;
    auto session = Session::connect(socket_of(cluster, node));
    if (!session) _exit(80);
    auto me = session->whoami();
    if (!me || me->uid != kNobody) _exit(81);
    auto secret = session->acquire("private", Access::kRead);
    denied(secret);
    messages[node] = secret.error().message;
    denied(session->acquire("readable", Access::kWrite));
    auto readable = session->acquire("readable", Access::kRead);
    allowed(readable);
    void* view = session->reserve(kSize).value();
    allowed(session->map(view, kSize, *readable));
    if (protection_of(view) != "r--s") _exit(node * 20 + 15);
    Section never_acquired;
    never_acquired.gid = secret ? 0 : 1;
    ++step;
    if (session->map(view, kSize, never_acquired).error().code != Errc::kNotFound) _exit(step);
    denied(session->lock_mutex("private-mutex", std::chrono::milliseconds(0)));
    allowed(session->wait_event("readable-event", std::chrono::milliseconds(0)));
    denied(session->set_event("readable-event"));
    denied(session->destroy_sync("readable-event"));
    denied(session->destroy("readable"));
    denied(session->destroy_sync("private-mutex"));
    allowed(session->create_event("own", false, false));  // anyone may create objects of their own
    allowed(session->destroy_sync("own"));
  }
  _exit(messages[0] == messages[1] ? 0 : 99);  // the same answer on every node
}

}  // namespace

TEST_CASE("a caller without rights cannot acquire, map, lock or destroy, with the same error on every node",
          "[app][security]") {
  TestCluster cluster(2, "32M");
  REQUIRE(::chmod(cluster.dir().c_str(), 0711) == 0);  // so that uid 65534 reaches the sockets
  Session root = connect(cluster, 0);
  must(root.create("private", kSize, CreateOptions{CreateOptions::Where::kLocal, 0, 0600}));
  must(root.create("readable", kSize, CreateOptions{CreateOptions::Where::kNode, 1, 0644}));
  must(root.create_mutex("private-mutex", 0600));
  must(root.create_event("readable-event", true, true, 0644));
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) unprivileged_client(cluster);
  int status = 0;
  ::waitpid(pid, &status, 0);
  INFO("the unprivileged client's first failed step (0 = none): " << WEXITSTATUS(status));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // The owner (root) still may.
  must(root.acquire("private", Access::kWrite));
  cluster.require_clean();
}

TEST_CASE("libgmm watch reports a node's failure and a planned leave", "[app][crash]") {
  TestCluster cluster(3, "32M");
  Session session = connect(cluster, 0);
  using Kind = gmm::app::NodeEvent::Kind;
  auto failures = must(session.watch({Kind::kNodeFailed}));
  auto leaves = must(session.watch({Kind::kNodeLeaving}));
  cluster.host_ok({"crash", "2", "--how", "kill"});
  auto failed = must(failures.next(std::chrono::seconds(60)));
  CHECK(failed.kind == Kind::kNodeFailed);
  CHECK(failed.node == 2);
  cluster.host_ok({"leave", "1"});
  auto leaving = must(leaves.next(std::chrono::seconds(60)));
  CHECK(leaving.kind == Kind::kNodeLeaving);
  CHECK(leaving.node == 1);
  auto nothing = failures.next(std::chrono::milliseconds(10));
  REQUIRE_FALSE(nothing);
  CHECK(failures.timed_out());
}

TEST_CASE("libgmm messages reach the watchers of exactly the nodes they are sent to", "[app]") {
  TestCluster cluster(3, "32M");
  using Kind = gmm::app::NodeEvent::Kind;
  Session zero = connect(cluster, 0);
  Session two = connect(cluster, 2);
  std::vector<gmm::app::EventWatch> watchers;
  for (int node = 0; node < 3; ++node) watchers.push_back(must(connect(cluster, node).watch({Kind::kMessage})));
  auto membership_only = must(connect(cluster, 1).watch());
  // 40 bytes with a NUL inside: only trailing zero bytes are lost.
  const std::string binary = std::string("to-one\0", 7) + std::string(33, '\x7f');
  REQUIRE(binary.size() == gmm::app::kMaxMessageBytes);

  must(zero.send(1, 1025, binary));
  must(zero.send_group({1, 2}, 1026, "to-group"));
  must(two.send_all(1027, "to-all"));  // sent after the others: behind them in every mailbox

  auto next_message = [&](int node) {
    auto event = must(watchers[node].next(std::chrono::seconds(30)));
    CHECK(event.kind == Kind::kMessage);
    CHECK(event.sent_ns > 0);
    return event;
  };
  auto one = next_message(1);
  CHECK(one.node == 0);
  CHECK(one.message_kind == 1025);
  CHECK(one.data == binary);
  auto group = next_message(1);
  CHECK(group.message_kind == 1026);
  CHECK(group.data == "to-group");
  CHECK(next_message(1).message_kind == 1027);
  auto group_at_two = next_message(2);
  CHECK(group_at_two.message_kind == 1026);
  CHECK(group_at_two.node == 0);
  CHECK(next_message(2).message_kind == 1027);
  // Node 0 was named only by the broadcast: that is its first message.
  auto all_at_zero = next_message(0);
  CHECK(all_at_zero.message_kind == 1027);
  CHECK(all_at_zero.node == 2);
  CHECK(all_at_zero.data == "to-all");
  // A watch that did not ask for messages gets none.
  REQUIRE_FALSE(membership_only.next(std::chrono::milliseconds(10)));
  CHECK(membership_only.timed_out());
}

TEST_CASE("libgmm send refuses GMM's own kinds, oversized payloads and absent nodes with a clear error", "[app]") {
  TestCluster cluster(2, "32M");
  Session session = connect(cluster, 0);
  auto require_refused = [](const gmm::Status& status, Errc code, const std::string& text) {
    REQUIRE_FALSE(status);
    INFO(status.error().message);
    CHECK(status.error().code == code);
    CHECK_THAT(status.error().message, Catch::Contains(text));
  };
  require_refused(session.send(1, 1023, "x"), Errc::kInvalidArgument, "from 1024");
  require_refused(session.send(1, 1024, std::string(gmm::app::kMaxMessageBytes + 1, 'x')), Errc::kInvalidArgument,
                  "41 bytes, the limit is 40");
  require_refused(session.send_group({1, 5}, 1024, "x"), Errc::kInvalidArgument, "node 5 does not exist");
  require_refused(session.send(64, 1024, "x"), Errc::kInvalidArgument, "node 64 does not exist");
  // Watching before the crash: the host watcher has it declared within
  // milliseconds, before a watch begun afterwards would be subscribed.
  auto watch = must(session.watch({gmm::app::NodeEvent::Kind::kNodeFailed}));
  cluster.host_ok({"crash", "1", "--how", "kill"});
  must(watch.next(std::chrono::seconds(60)));
  require_refused(session.send(1, 1024, "x"), Errc::kNotFound, "node 1 is not a member");
  must(session.send_all(1024, "only node 0 is left"));
}

TEST_CASE("a full mailbox makes send busy, naming the node, and the rest still get the message", "[app][crash]") {
  // Long failure detection: node 1 stays a member while paused.
  TestCluster cluster(3, "32M", {"--heartbeat-ms", "100", "--miss-threshold", "600"});
  using Kind = gmm::app::NodeEvent::Kind;
  Session session = connect(cluster, 0);
  auto at_two = must(connect(cluster, 2).watch({Kind::kMessage}));
  cluster.host_ok({"crash", "1", "--how", "pause"});
  gmm::Status sent = gmm::ok_status();
  int accepted = 0;
  while (accepted <= 64) {
    sent = session.send(1, 1024, "fill");
    if (!sent) break;
    ++accepted;
  }
  REQUIRE_FALSE(sent);
  INFO(sent.error().message);
  CHECK(accepted == 64);  // layout::kMailboxSlots
  CHECK(sent.error().code == Errc::kBusy);
  CHECK_THAT(sent.error().message, Catch::Contains("mailbox of node 1 is full"));

  gmm::Status group = session.send_group({1, 2}, 1030, "partly");
  REQUIRE_FALSE(group);
  CHECK(group.error().code == Errc::kBusy);
  CHECK_THAT(group.error().message, Catch::Contains("sent to nodes 2"));
  auto got = must(at_two.next(std::chrono::seconds(30)));
  CHECK(got.message_kind == 1030);
  cluster.host_ok({"resume", "1"});
}

TEST_CASE("libgmm C header: a bounded reconnect wait and the lost-handle callback", "[app][crash]") {
  TestCluster cluster(2, "32M");
  gmm_session* session = nullptr;
  REQUIRE(gmm_c_reconnect_before(socket_of(cluster, 1).c_str(), &session) == 0);
  cluster.host_ok({"crash", "1", "--how", "kill"});
  const int after = gmm_c_reconnect_after(session);
  INFO(gmm_last_error(session));
  CHECK(after == 0);
  gmm_disconnect(session);
}

TEST_CASE("libgmm C header sends and receives a message", "[app]") {
  TestCluster cluster(2, "32M");
  CHECK(gmm_c_message_roundtrip(socket_of(cluster, 0).c_str(), socket_of(cluster, 1).c_str()) == 0);
}

TEST_CASE("gmmd revokes the handles of sections whose memory is lost or whose node left", "[app][crash]") {
  TestCluster cluster(4, "64M", {"--leave-grace-ms", "200"});
  using Kind = gmm::app::NodeEvent::Kind;
  Session owner = connect(cluster, 0);
  for (int home : {1, 2, 3}) {
    must(owner.create("on-" + std::to_string(home), kSize, CreateOptions{CreateOptions::Where::kNode,
                                                                         static_cast<std::uint32_t>(home), 0600}));
  }
  Session client = connect(cluster, 0);
  auto losses = must(client.watch({Kind::kMemoryLost}));
  Section on1 = must(client.acquire("on-1", Access::kWrite));
  Section on2 = must(client.acquire("on-2", Access::kWrite));
  Section on3 = must(client.acquire("on-3", Access::kWrite));
  void* view = must(client.map_global(on3));
  CHECK(must(client.whoami()).handles == 3);

  cluster.host_ok({"lose-memory", "3", "--timeout", "120"});
  auto lost = must(losses.next(std::chrono::seconds(60)));
  CHECK(lost.kind == Kind::kMemoryLost);
  CHECK(lost.node == 3);
  CHECK(must(client.whoami()).handles == 2);  // revoked before the event came
  // Process mode: the mapping of the pool file stays until the client drops it.
  CHECK(protection_of(view) == "rw-s");
  must(client.unmap(view, kSize));
  auto revoked = client.relinquish(on3);
  REQUIRE_FALSE(revoked);
  CHECK(revoked.error().code == Errc::kNotFound);
  CHECK_THAT(revoked.error().message, Catch::Contains("was revoked: the memory of node 3 was lost"));

  cluster.host_ok({"leave", "2", "--timeout", "120"});
  CHECK(must(client.whoami()).handles == 1);
  auto left = client.relinquish(on2);
  REQUIRE_FALSE(left);
  CHECK_THAT(left.error().message, Catch::Contains("was revoked: node 2 left the cluster"));
  std::string listing = cluster.ctl_ok(1, {"ls"});
  CHECK_THAT(listing, !Catch::Contains("on-2") && !Catch::Contains("on-3") && Catch::Contains("on-1"));
  must(client.relinquish(on1));
  cluster.require_clean();
}

TEST_CASE("libgmm reconnects after its gmmd restarts: surviving handles stay mapped, the others are reported lost",
          "[app][crash]") {
  TestCluster cluster(2, "32M");
  Session zero = connect(cluster, 0);
  // Held by node 0's gmmd: survives node 1's restart.
  must(zero.create("survives", kSize, CreateOptions{CreateOptions::Where::kNode, 1, 0600}));
  Session one = connect(cluster, 1);
  // Held by node 1 alone: its recovery frees it.
  must(one.create("goes", kSize));
  std::vector<std::string> lost;
  std::string why;
  one.on_handle_lost([&lost, &why](const Section& section, const gmm::Error& error) {
    lost.push_back(section.name);
    why += error.message + "\n";
  });
  Section survives = must(one.acquire("survives", Access::kWrite));
  Section goes = must(one.acquire("goes", Access::kWrite));
  auto* kept = static_cast<char*>(must(one.map_global(survives)));
  auto* gone = static_cast<char*>(must(one.map_global(goes)));
  std::strcpy(kept, "before the restart");
  std::strcpy(gone, "will go");

  cluster.host_ok({"crash", "1", "--how", "kill"});
  // Restarted only once its node was recovered (a gmmd restarted before
  // that rejoins with the node's shares: then every handle survives).
  cluster.status_until([](const nlohmann::json& report) {
    const auto& failure = report["last_failure"];
    return failure.is_object() && failure["node"] == 1 && failure["complete"] == true;
  });
  cluster.host_ok({"restart", "1"});
  auto me = must(one.whoami());  // finds the connection closed: reconnects and re-acquires
  INFO(why);
  CHECK(me.handles == 1);
  REQUIRE(lost == std::vector<std::string>{"goes"});
  CHECK(std::string(kept) == "before the restart");  // the same mapping, still the section
  std::strcpy(kept, "after the restart");
  CHECK(protection_of(gone) == "---p");
  auto remapped = one.map(gone, kSize, goes);
  REQUIRE_FALSE(remapped);
  CHECK(remapped.error().code == Errc::kNotFound);
  CHECK_THAT(remapped.error().message, Catch::Contains("was lost"));
  Section seen = must(zero.acquire("survives", Access::kRead));
  void* elsewhere = must(zero.reserve(kSize));  // its global address is this process's session `one`'s
  must(zero.map(elsewhere, kSize, seen));
  CHECK(std::string(static_cast<const char*>(elsewhere)) == "after the restart");

  // A gmmd that does not come back: a bounded wait, then a clear error.
  one.set_reconnect_wait(std::chrono::milliseconds(300));
  cluster.host_ok({"crash", "1", "--how", "kill"});
  auto nobody = one.whoami();
  REQUIRE_FALSE(nobody);
  CHECK(nobody.error().code == Errc::kIo);
  CHECK_THAT(nobody.error().message, Catch::Contains("no gmmd answered there within 300 ms"));
  CHECK(lost == std::vector<std::string>{"goes", "survives"});
  CHECK(protection_of(kept) == "---p");
}
