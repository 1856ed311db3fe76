// libgmm against real gmmd processes (gmm-host up --mode proc): every call
// of gmm/app.hpp, the C header, same addresses across nodes, and cleanup of
// a client killed with SIGKILL.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gmm/app.hpp"
#include "proto/client.hpp"
#include "test_cluster.hpp"

extern "C" int gmm_c_header_roundtrip(const char* socket_path);  // c_api_check.c

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

  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto session = Session::connect(socket_of(cluster, 1));
    if (!session) _exit(1);
    auto section = session->acquire("held", Access::kWrite);
    if (!section || !session->map_global(*section)) _exit(2);
    char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) _exit(3);
    ::pause();
    _exit(4);
  }
  ::close(ready[1]);
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  ::close(ready[0]);
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
