// gmmd's RequestHandler against a real formatted pool file and joined
// nodes: each op's reply and its refusals (not found, exists, another
// user's rights, bad arguments), and what a client leaves behind when it
// goes. Requests go in as wire lines, replies come out decoded as gmmctl
// and libgmm decode them. Two nodes with a handler each stand for the
// gmmds of two nodes; callers are ordinary users (root may do anything).
#include "gmmd/handler.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "file/file_window.hpp"
#include "gmm/messages.hpp"
#include "gmm/platform.hpp"
#include "gmmd_test_support.hpp"
#include "pool_fixture.hpp"
#include "proto/proto.hpp"

using namespace gmm;
using namespace gmm::gmmd;
using namespace gmm::test;
using nlohmann::json;

namespace {

// Client `serial` of the owner, or of the other user.
Caller owner(std::uint64_t serial) { return Caller{serial, 100 + static_cast<pid_t>(serial), kOwnerUid, kOwnerGid}; }
Caller other(std::uint64_t serial) { return Caller{serial, 100 + static_cast<pid_t>(serial), kOtherUid, kOtherGid}; }

// One request line through `handler`, the reply as a client decodes it.
Result<json> call(RequestHandler& handler, const Caller& caller, const json& request) {
  return proto::decode_reply(handler.handle_line(request.dump(), caller).reply);
}

json alloc_request(const std::string& name, std::uint64_t size, std::uint32_t mode = proto::kDefaultMode) {
  return {{"op", "alloc"}, {"name", name}, {"size", size}, {"where", "local"}, {"mode", mode}};
}

// The section named `name` in an `ls` reply, or null.
json listed(RequestHandler& handler, const std::string& name) {
  json sections = body_of(call(handler, owner(1), {{"op", "ls"}}))["sections"];
  for (const json& section : sections) {
    if (section["name"] == name) return section;
  }
  return nullptr;
}

// One node's gmmd: a joined node and its handler, windows from the pool file.
struct Gmmd {
  Gmmd(const TempPool& pool, std::uint32_t id, Messenger* messenger = nullptr)
      : node(pool.node(id)),
        windows(pool.path, pool.pool->size()),
        handler(*node, &windows, {}, messenger) {}
  std::unique_ptr<Node> node;
  FileWindowSource windows;
  RequestHandler handler;
};

// The handler logs every refusal at info; keep test output to what matters.
struct QuietLog {
  QuietLog() { spdlog::set_level(spdlog::level::warn); }
  ~QuietLog() { spdlog::set_level(spdlog::level::info); }
};

// The usual test: a fresh pool and one gmmd (node 0), or two (nodes 0 and 1).
struct OneNode {
  QuietLog quiet;
  TempPool pool;
  Gmmd gmmd{pool, 0};
};
struct TwoNodes {
  QuietLog quiet;
  TempPool pool;
  Gmmd node0{pool, 0};
  Gmmd node1{pool, 1};
};

// Windows from the pool file that can be revoked, as a guest's driver
// gives them: each comes with a revoker, here the write end of a pipe whose
// read end the test keeps, so it sees when gmmd closes the revoker.
struct RevocableWindows final : WindowSource {
  explicit RevocableWindows(const TempPool& pool) : file(pool.path, pool.pool->size()) {}
  Result<Window> open_window(std::uint64_t pool_offset, std::uint64_t length, bool writable) override {
    auto window = file.open_window(pool_offset, length, writable);
    if (!window) return window;
    int ends[2];
    REQUIRE(::pipe2(ends, O_CLOEXEC | O_NONBLOCK) == 0);
    window->revoker = UniqueFd(ends[1]);
    offset_of[ends[1]] = pool_offset;
    watchers[pool_offset] = UniqueFd(ends[0]);
    return window;
  }
  Status revoke(const UniqueFd& revoker) override {
    revoked.push_back(offset_of.at(revoker.get()));
    return ok_status();
  }
  // gmmd closed the revoker of the window at `pool_offset` (EOF on the pipe).
  bool closed(std::uint64_t pool_offset) {
    char byte;
    return ::read(watchers.at(pool_offset).get(), &byte, 1) == 0;
  }
  FileWindowSource file;
  std::map<int, std::uint64_t> offset_of;         // revoker -> pool offset
  std::map<std::uint64_t, UniqueFd> watchers;     // pool offset -> read end
  std::vector<std::uint64_t> revoked;             // pool offsets, in revoke() order
};

// A window descriptor mapped, unmapped at scope end.
struct Mapped {
  Mapped(const UniqueFd& fd, const json& window, bool writable) : length(window["length"].get<std::size_t>()) {
    address = ::mmap(nullptr, length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd.get(),
                     window["mmap_offset"].get<off_t>());
    REQUIRE(address != MAP_FAILED);
  }
  ~Mapped() { ::munmap(address, length); }
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;
  char* bytes() const { return static_cast<char*>(address); }
  void* address;
  std::size_t length;
};

}  // namespace

TEST_CASE("gmmd handler: ping, whoami, ls and stat answer with this node's view", "[gmmd][handler]") {
  QuietLog quiet;
  TempPool pool;
  auto node = pool.node(2);
  RequestHandler handler(*node, nullptr, [] { return json{{"doorbell", {{"kind", "polling"}, {"wakes", 0}}}}; });

  json ping = body_of(call(handler, owner(1), {{"op", "ping"}}));
  CHECK(ping["node"] == 2);
  CHECK(ping["pid"] == ::getpid());
  CHECK(ping["doorbell"]["kind"] == "polling");  // what gmmd adds

  json me = body_of(call(handler, Caller{7, 4321, kOwnerUid, 55}, {{"op", "whoami"}}));
  CHECK(me["client"] == 7);
  CHECK(me["pid"] == 4321);
  CHECK(me["uid"] == kOwnerUid);
  CHECK(me["gid"] == 55);
  CHECK(me["node"] == 2);
  CHECK(me["handles"] == 0);

  CHECK(body_of(call(handler, owner(1), {{"op", "ls"}}))["sections"] == json::array());
  json partitions = body_of(call(handler, owner(1), {{"op", "stat"}}))["partitions"];
  REQUIRE(partitions.size() == pool.pool->node_count());
  for (std::uint32_t k = 0; k < partitions.size(); ++k) {
    CHECK(partitions[k]["node"] == k);
    CHECK(partitions[k]["used_bytes"] == 0);
    CHECK(partitions[k]["free_bytes"] == partitions[k]["data_bytes"]);
  }
}

TEST_CASE_METHOD(OneNode, "gmmd handler: a malformed line, an unknown op or a stray field gets invalid-argument, and nothing else changes",
          "[gmmd][handler]") {
  for (std::string bad : {"garbage", "", "[1,2]", "{}", R"({"op":"launch"})", R"({"op":"ping","extra":1})",
                          R"({"op":"alloc","name":"x"})", R"({"op":"open","name":""})",
                          R"({"op":"read","name":"x","offset":0,"length":99999999})"}) {
    INFO(bad);
    Handled handled = gmmd.handler.handle_line(bad, owner(1));
    Error error = refusal_of(proto::decode_reply(handled.reply));
    CHECK(error.code == Errc::kInvalidArgument);
    CHECK_FALSE(error.message.empty());
    CHECK_FALSE(handled.starts_watch);
    CHECK_FALSE(handled.descriptor);
  }
  CHECK(body_of(call(gmmd.handler, owner(1), {{"op", "ping"}}))["node"] == 0);
  CHECK(body_of(call(gmmd.handler, owner(1), {{"op", "ls"}}))["sections"].empty());
  REQUIRE_POOL_CLEAN(*pool.pool);
}

TEST_CASE_METHOD(OneNode, "gmmd handler: alloc makes a section the caller owns, and refuses a taken name and bad arguments",
          "[gmmd][handler]") {

  json section = body_of(call(gmmd.handler, owner(1), alloc_request("orders", 5000)))["section"];
  CHECK(section["name"] == "orders");
  CHECK(section["size"] == 8192);  // whole pages
  CHECK(section["home_node"] == 0);
  CHECK(section["sharers"] == 1);  // gmmd's own share, until close or free
  CHECK(section["sharer_nodes"] == json::array({0}));
  auto gid = parse_gid(section["gid"].get<std::string>());
  REQUIRE(gid);
  auto described = gmmd.node->describe(*gid);
  REQUIRE(described);
  CHECK(described->security.uid == kOwnerUid);
  CHECK(described->security.gid == kOwnerGid);
  CHECK(described->security.mode == proto::kDefaultMode);
  CHECK(gmmd.node->holds(*gid, gmmd::kDaemonHolder));

  json other_node = body_of(call(gmmd.handler, owner(1),
                                 {{"op", "alloc"}, {"name", "remote"}, {"size", 4096}, {"where", "node"}, {"node", 1},
                                  {"mode", 0640}}))["section"];
  CHECK(other_node["home_node"] == 1);
  CHECK(gmmd.node->describe(*parse_gid(other_node["gid"].get<std::string>()))->security.mode == 0640);

  CHECK(refusal_of(call(gmmd.handler, other(2), alloc_request("orders", 4096))).code == Errc::kExists);
  CHECK(refusal_of(call(gmmd.handler, owner(1), alloc_request("empty", 0))).code == Errc::kInvalidArgument);
  CHECK(refusal_of(call(gmmd.handler, owner(1), alloc_request(std::string(layout::kNameMax + 1, 'n'), 4096))).code ==
        Errc::kNameTooLong);
  CHECK(refusal_of(call(gmmd.handler, owner(1),
                        {{"op", "alloc"}, {"name", "far"}, {"size", 4096}, {"where", "node"}, {"node", 9}}))
            .code == Errc::kInvalidArgument);  // the pool has 4 nodes
  CHECK(refusal_of(call(gmmd.handler, owner(1), alloc_request("huge", 1ull << 40))).code == Errc::kNoSpace);

  json sections = body_of(call(gmmd.handler, owner(1), {{"op", "ls"}}))["sections"];
  CHECK(sections.size() == 2);
  REQUIRE_POOL_CLEAN(*pool.pool);
}

TEST_CASE_METHOD(TwoNodes, "gmmd handler: open, write, read and close on a second node, and what another user may do",
          "[gmmd][handler]") {
  body_of(call(node0.handler, owner(1), alloc_request("private", 8192)));        // 0600
  body_of(call(node0.handler, owner(1), alloc_request("public", 4096, 0644)));  // others read

  const json write_hello{{"op", "write"}, {"name", "private"}, {"offset", 100}, {"data_b64", proto::base64_encode("hello")}};
  Error not_open = refusal_of(call(node1.handler, owner(1), write_hello));
  CHECK(not_open.code == Errc::kPermission);
  CHECK_THAT(not_open.message, Catch::Contains("not open on node 1"));

  CHECK(refusal_of(call(node1.handler, other(2), {{"op", "open"}, {"name", "private"}})).code == Errc::kPermission);
  CHECK(refusal_of(call(node1.handler, owner(1), {{"op", "open"}, {"name", "missing"}})).code == Errc::kNotFound);
  json opened = body_of(call(node1.handler, owner(1), {{"op", "open"}, {"name", "private"}}))["section"];
  CHECK(opened["name"] == "private");
  CHECK(listed(node0.handler, "private")["sharer_nodes"] == json::array({0, 1}));
  CHECK(refusal_of(call(node1.handler, owner(3), {{"op", "open"}, {"name", "private"}})).code ==
        Errc::kAlreadyOpen);  // the node's share is gmmd's, whoever asked for it

  CHECK(body_of(call(node1.handler, owner(1), write_hello))["written"] == 5);
  json read{{"op", "read"}, {"name", "private"}, {"offset", 100}, {"length", 5}};
  CHECK(proto::base64_decode(body_of(call(node0.handler, owner(1), read))["data_b64"].get<std::string>()) == "hello");
  CHECK(refusal_of(call(node0.handler, other(2), read)).code == Errc::kPermission);
  CHECK(refusal_of(call(node1.handler, other(2), write_hello)).code == Errc::kPermission);
  Error past_end = refusal_of(call(node0.handler, owner(1),
                                   {{"op", "read"}, {"name", "private"}, {"offset", 8190}, {"length", 5}}));
  CHECK(past_end.code == Errc::kInvalidArgument);
  CHECK_THAT(past_end.message, Catch::Contains("past the end"));

  // 0644: another user opens and reads, but may not write.
  body_of(call(node1.handler, other(2), {{"op", "open"}, {"name", "public"}}));
  const json write_public{{"op", "write"}, {"name", "public"}, {"offset", 0}, {"data_b64", proto::base64_encode("x")}};
  CHECK(refusal_of(call(node1.handler, other(2), write_public)).code == Errc::kPermission);
  CHECK(body_of(call(node1.handler, owner(1), write_public))["written"] == 1);
  CHECK(proto::base64_decode(body_of(call(node1.handler, other(2),
                                          {{"op", "read"}, {"name", "public"}, {"offset", 0}, {"length", 1}}))
                                 ["data_b64"]
                                     .get<std::string>()) == "x");

  body_of(call(node1.handler, other(2), {{"op", "close"}, {"name", "private"}}));  // close needs no rights
  CHECK(refusal_of(call(node1.handler, owner(1), {{"op", "close"}, {"name", "private"}})).code == Errc::kNotFound);
  CHECK(refusal_of(call(node1.handler, owner(1), write_hello)).code == Errc::kPermission);  // no longer open there
  CHECK(listed(node0.handler, "private")["sharer_nodes"] == json::array({0}));
  REQUIRE_POOL_CLEAN(*pool.pool);
}

TEST_CASE_METHOD(TwoNodes, "gmmd handler: only the owner frees, the name goes at once and the memory with the last share",
          "[gmmd][handler]") {
  body_of(call(node0.handler, owner(1), alloc_request("f", 4096, 0666)));
  body_of(call(node1.handler, owner(1), {{"op", "open"}, {"name", "f"}}));

  Error denied = refusal_of(call(node0.handler, other(2), {{"op", "free"}, {"name", "f"}}));
  CHECK(denied.code == Errc::kPermission);  // even with mode 0666: freeing is the owner's
  CHECK_THAT(denied.message, Catch::Contains("uid 2000"));
  CHECK(refusal_of(call(node0.handler, owner(1), {{"op", "free"}, {"name", "nothing"}})).code == Errc::kNotFound);

  body_of(call(node0.handler, owner(1), {{"op", "free"}, {"name", "f"}}));
  CHECK(refusal_of(call(node0.handler, owner(1), {{"op", "open"}, {"name", "f"}})).code == Errc::kNotFound);
  body_of(call(node0.handler, owner(1), alloc_request("f", 4096)));  // the name is free for a new section
  body_of(call(node0.handler, owner(1), {{"op", "free"}, {"name", "f"}}));  // its only share: memory back at once

  // Node 1 still shares the unlinked section: its memory is still in use.
  json sections = body_of(call(node0.handler, owner(1), {{"op", "ls"}}))["sections"];
  REQUIRE(sections.size() == 1);
  CHECK(sections[0]["unlinked"] == true);
  CHECK(sections[0]["sharer_nodes"] == json::array({1}));
  CHECK(body_of(call(node0.handler, owner(1), {{"op", "stat"}}))["partitions"][0]["used_bytes"] == 4096);
  REQUIRE_POOL_CLEAN(*pool.pool);
}

TEST_CASE_METHOD(OneNode, "gmmd handler: acquire hands out a window onto the section with the rights asked for, and relinquish gives it back",
          "[gmmd][handler]") {
  json section = body_of(call(gmmd.handler, owner(1), alloc_request("win", 4096, 0644)))["section"];
  const std::string gid = section["gid"];
  body_of(call(gmmd.handler, owner(1),
               {{"op", "write"}, {"name", "win"}, {"offset", 0}, {"data_b64", proto::base64_encode("abc")}}));

  Handled read_only = gmmd.handler.handle_line(json{{"op", "acquire"}, {"name", "win"}, {"access", "read"}}.dump(), other(5));
  json reply = body_of(proto::decode_reply(read_only.reply));
  REQUIRE(read_only.descriptor);
  CHECK(reply["section"]["gid"] == gid);
  CHECK(reply["address"] == proto::kGlobalAddressBase + section["pool_offset"].get<std::uint64_t>());
  CHECK(reply["window"]["length"] == 4096);
  CHECK(reply["window"]["writable"] == false);
  {
    Mapped window(read_only.descriptor, reply["window"], false);
    CHECK(std::string(window.bytes(), 3) == "abc");
  }
  CHECK(gmmd.handler.handles_of(5) == 1);
  CHECK(body_of(call(gmmd.handler, other(5), {{"op", "whoami"}}))["handles"] == 1);
  CHECK(listed(gmmd.handler, "win")["sharers"] == 2);  // gmmd's share and client 5's

  CHECK(refusal_of(call(gmmd.handler, other(5), {{"op", "acquire"}, {"name", "win"}, {"access", "read"}})).code ==
        Errc::kAlreadyOpen);
  CHECK(refusal_of(call(gmmd.handler, other(6), {{"op", "acquire"}, {"name", "win"}, {"access", "write"}})).code ==
        Errc::kPermission);
  CHECK(refusal_of(call(gmmd.handler, other(6), {{"op", "acquire"}, {"name", "nope"}, {"access", "read"}})).code ==
        Errc::kNotFound);
  CHECK(refusal_of(call(gmmd.handler, other(6),
                        {{"op", "acquire"}, {"gid", "0x0000000100000fff"}, {"access", "read"}}))
            .code == Errc::kNotFound);
  CHECK(gmmd.handler.handles_of(6) == 0);

  // By GID, writable, for the owner: what the window writes, gmmd reads.
  Handled writable = gmmd.handler.handle_line(json{{"op", "acquire"}, {"gid", gid}, {"access", "write"}}.dump(), owner(7));
  json window = body_of(proto::decode_reply(writable.reply))["window"];
  REQUIRE(writable.descriptor);
  CHECK(window["writable"] == true);
  {
    Mapped mapped(writable.descriptor, window, true);
    std::memcpy(mapped.bytes(), "xyz", 3);
  }
  CHECK(proto::base64_decode(body_of(call(gmmd.handler, owner(1),
                                          {{"op", "read"}, {"name", "win"}, {"offset", 0}, {"length", 3}}))["data_b64"]
                                 .get<std::string>()) == "xyz");
  CHECK(listed(gmmd.handler, "win")["sharers"] == 3);

  CHECK(refusal_of(call(gmmd.handler, owner(8), {{"op", "relinquish"}, {"gid", gid}})).code == Errc::kNotFound);
  body_of(call(gmmd.handler, other(5), {{"op", "relinquish"}, {"gid", gid}}));
  CHECK(gmmd.handler.handles_of(5) == 0);
  CHECK(refusal_of(call(gmmd.handler, other(5), {{"op", "relinquish"}, {"gid", gid}})).code == Errc::kNotFound);
  body_of(call(gmmd.handler, owner(7), {{"op", "relinquish"}, {"gid", gid}}));
  CHECK(listed(gmmd.handler, "win")["sharers"] == 1);

  // Without a window source (a guest driver too old for windows): kIo, saying so.
  RequestHandler no_windows(*gmmd.node, nullptr);
  Error io = refusal_of(call(no_windows, owner(1), {{"op", "acquire"}, {"name", "win"}, {"access", "read"}}));
  CHECK(io.code == Errc::kIo);
  CHECK_THAT(io.message, Catch::Contains("cannot hand out section windows"));
  REQUIRE_POOL_CLEAN(*pool.pool);
}

TEST_CASE("gmmd handler: gmmd keeps each window's revoker, revokes the windows of revoked handles and closes the revoker when the handle goes",
          "[gmmd][handler]") {
  QuietLog quiet;
  TempPool pool;
  std::unique_ptr<Node> node = pool.node(0);
  RevocableWindows windows(pool);
  RequestHandler handler(*node, &windows);
  std::map<std::string, std::uint64_t> at;  // section -> pool offset
  for (const char* name : {"lost", "kept", "dropped", "gone"}) {
    at[name] = body_of(call(handler, owner(1), alloc_request(name, 4096)))["section"]["pool_offset"];
  }
  for (const char* name : {"lost", "kept", "dropped"}) {
    REQUIRE(handler.handle_line(json{{"op", "acquire"}, {"name", name}, {"access", "write"}}.dump(), owner(5)).descriptor);
  }
  REQUIRE(handler.handle_line(json{{"op", "acquire"}, {"name", "gone"}, {"access", "read"}}.dump(), owner(6)).descriptor);
  for (const auto& [name, offset] : at) CHECK_FALSE(windows.closed(offset));  // gmmd keeps every revoker

  // Relinquished: the revoker closes, nothing is revoked.
  body_of(call(handler, owner(5), {{"op", "relinquish"}, {"gid", to_string(*node->lookup_name("dropped"))}}));
  CHECK(windows.closed(at["dropped"]));
  // The core lost client 5's share of "lost" (as memory loss does): that window is revoked.
  REQUIRE(node->close(*node->lookup_name("lost"), 5));
  CHECK(handler.revoke_gone_handles("the memory of node 0 was lost") == 1);
  CHECK(windows.revoked == std::vector<std::uint64_t>{at["lost"]});
  CHECK(windows.closed(at["lost"]));
  CHECK_FALSE(windows.closed(at["kept"]));
  CHECK(handler.handles_of(5) == 1);
  // A client that goes: its revokers close, without revocation.
  handler.client_gone(owner(6));
  CHECK(windows.closed(at["gone"]));
  handler.client_gone(owner(5));
  CHECK(windows.closed(at["kept"]));
  CHECK(windows.revoked.size() == 1);
  REQUIRE_POOL_CLEAN(*pool.pool);
}

TEST_CASE_METHOD(TwoNodes, "gmmd handler: global mutexes: one holder at a time, unlocked by it only, destroyed by the owner only",
          "[gmmd][handler][sync]") {
  const json lock{{"op", "mutex_lock"}, {"name", "m"}};
  const json unlock{{"op", "mutex_unlock"}, {"name", "m"}};
  body_of(call(node0.handler, owner(1), {{"op", "mutex_create"}, {"name", "m"}}));  // 0600
  CHECK(refusal_of(call(node1.handler, owner(1), {{"op", "mutex_create"}, {"name", "m"}})).code == Errc::kExists);
  CHECK(refusal_of(call(node0.handler, owner(1), {{"op", "event_create"}, {"name", "m"}, {"manual_reset", false},
                                                  {"signaled", false}}))
            .code == Errc::kExists);  // one name space for mutexes and events

  CHECK(body_of(call(node0.handler, owner(1), lock))["abandoned"] == false);
  CHECK(body_of(call(node0.handler, owner(1), lock))["abandoned"] == false);  // recursive for its holder
  CHECK(refusal_of(call(node0.handler, owner(2), lock)).code == Errc::kBusy);  // another client, same user
  CHECK(refusal_of(call(node1.handler, owner(1), lock)).code == Errc::kBusy);  // client 1 of another node
  CHECK(refusal_of(call(node0.handler, other(3), lock)).code == Errc::kPermission);
  CHECK(refusal_of(call(node0.handler, owner(2), unlock)).code == Errc::kPermission);  // not the holder
  CHECK(refusal_of(call(node0.handler, owner(1), {{"op", "mutex_lock"}, {"name", "nope"}})).code == Errc::kNotFound);
  CHECK(refusal_of(call(node0.handler, owner(1), {{"op", "sync_destroy"}, {"name", "m"}})).code == Errc::kBusy);
  body_of(call(node0.handler, owner(1), unlock));
  body_of(call(node0.handler, owner(1), unlock));
  CHECK(body_of(call(node1.handler, owner(1), lock))["abandoned"] == false);
  body_of(call(node1.handler, owner(1), unlock));

  CHECK(refusal_of(call(node0.handler, other(3), {{"op", "sync_destroy"}, {"name", "m"}})).code == Errc::kPermission);
  CHECK(refusal_of(call(node0.handler, owner(1), {{"op", "sync_destroy"}, {"name", "nope"}})).code == Errc::kNotFound);
  body_of(call(node1.handler, owner(2), {{"op", "sync_destroy"}, {"name", "m"}}));  // any client of the owner
  CHECK(refusal_of(call(node0.handler, owner(1), lock)).code == Errc::kNotFound);
  REQUIRE_POOL_CLEAN(*pool.pool);
}

TEST_CASE_METHOD(TwoNodes, "gmmd handler: global events: auto-reset wakes one waiter per set, manual-reset all until reset (r to wait, w to set)",
          "[gmmd][handler][sync]") {
  auto wait = [](Gmmd& gmmd, const Caller& caller, const std::string& name) {
    return body_of(call(gmmd.handler, caller, {{"op", "event_wait"}, {"name", name}}))["signaled"].get<bool>();
  };
  body_of(call(node0.handler, owner(1),
               {{"op", "event_create"}, {"name", "auto"}, {"mode", 0644}, {"manual_reset", false}, {"signaled", false}}));
  body_of(call(node0.handler, owner(1),
               {{"op", "event_create"}, {"name", "manual"}, {"manual_reset", true}, {"signaled", true}}));  // 0600

  CHECK_FALSE(wait(node1, other(2), "auto"));
  CHECK(refusal_of(call(node1.handler, other(2), {{"op", "event_set"}, {"name", "auto"}})).code == Errc::kPermission);
  body_of(call(node1.handler, owner(3), {{"op", "event_set"}, {"name", "auto"}}));
  CHECK(wait(node0, other(2), "auto"));
  CHECK_FALSE(wait(node1, other(2), "auto"));  // taken by the first waiter

  CHECK(wait(node1, owner(3), "manual"));
  CHECK(wait(node0, owner(4), "manual"));
  CHECK(refusal_of(call(node0.handler, other(2), {{"op", "event_wait"}, {"name", "manual"}})).code == Errc::kPermission);
  CHECK(refusal_of(call(node0.handler, other(2), {{"op", "event_reset"}, {"name", "manual"}})).code ==
        Errc::kPermission);
  body_of(call(node0.handler, owner(4), {{"op", "event_reset"}, {"name", "manual"}}));
  CHECK_FALSE(wait(node1, owner(3), "manual"));
  CHECK(refusal_of(call(node0.handler, owner(1), {{"op", "event_set"}, {"name", "nope"}})).code == Errc::kNotFound);
  CHECK(refusal_of(call(node0.handler, owner(1), {{"op", "mutex_lock"}, {"name", "auto"}})).code ==
        Errc::kNotFound);  // an event is no mutex
  body_of(call(node0.handler, owner(1), {{"op", "sync_destroy"}, {"name", "auto"}}));
  REQUIRE_POOL_CLEAN(*pool.pool);
}

TEST_CASE_METHOD(OneNode, "gmmd handler: a client that goes releases the sections it acquired and abandons the mutexes it holds",
          "[gmmd][handler]") {
  const std::string kept = body_of(call(gmmd.handler, owner(1), alloc_request("kept", 4096)))["section"]["gid"];
  const std::string only = body_of(call(gmmd.handler, owner(1), alloc_request("only", 4096)))["section"]["gid"];
  body_of(call(gmmd.handler, owner(5), {{"op", "acquire"}, {"name", "kept"}, {"access", "write"}}));
  body_of(call(gmmd.handler, owner(5), {{"op", "acquire"}, {"gid", only}, {"access", "read"}}));
  body_of(call(gmmd.handler, owner(1), {{"op", "close"}, {"name", "only"}}));  // client 5's is its last share
  CHECK(listed(gmmd.handler, "only")["sharers"] == 1);
  body_of(call(gmmd.handler, owner(5), {{"op", "mutex_create"}, {"name", "held"}}));
  body_of(call(gmmd.handler, owner(5), {{"op", "mutex_create"}, {"name", "released"}}));
  body_of(call(gmmd.handler, owner(5), {{"op", "mutex_lock"}, {"name", "held"}}));
  body_of(call(gmmd.handler, owner(5), {{"op", "mutex_lock"}, {"name", "released"}}));
  body_of(call(gmmd.handler, owner(5), {{"op", "mutex_unlock"}, {"name", "released"}}));
  body_of(call(gmmd.handler, owner(6), {{"op", "acquire"}, {"name", "kept"}, {"access", "read"}}));
  CHECK(listed(gmmd.handler, "kept")["sharers"] == 3);
  REQUIRE(gmmd.handler.handles_of(5) == 2);

  gmmd.handler.client_gone(owner(5));
  CHECK(gmmd.handler.handles_of(5) == 0);
  CHECK(gmmd.handler.handles_of(6) == 1);  // another client's are its own
  CHECK(listed(gmmd.handler, "kept")["sharers"] == 2);
  CHECK(listed(gmmd.handler, "only") == nullptr);  // the last share went: the section is freed
  CHECK(refusal_of(call(gmmd.handler, owner(1), {{"op", "open"}, {"name", "only"}})).code == Errc::kNotFound);
  CHECK(body_of(call(gmmd.handler, owner(7), {{"op", "mutex_lock"}, {"name", "held"}}))["abandoned"] == true);
  CHECK(body_of(call(gmmd.handler, owner(7), {{"op", "mutex_lock"}, {"name", "released"}}))["abandoned"] == false);
  REQUIRE_POOL_CLEAN(*pool.pool);

  gmmd.handler.client_gone(owner(5));  // twice, or a client that held nothing: nothing to do
  gmmd.handler.client_gone(owner(9));
  gmmd.handler.client_gone(owner(6));
  CHECK(listed(gmmd.handler, "kept")["sharers"] == 1);
  // Client 7 holds both mutexes now; it goes too and the next one is told.
  gmmd.handler.client_gone(owner(7));
  CHECK(body_of(call(gmmd.handler, owner(8), {{"op", "mutex_lock"}, {"name", "held"}}))["abandoned"] == true);
  REQUIRE_POOL_CLEAN(*pool.pool);
}

TEST_CASE("gmmd handler: watch is accepted with the kinds asked for (the server does the rest)", "[gmmd][handler]") {
  QuietLog quiet;
  TempPool pool;
  Gmmd gmmd(pool, 3);
  Handled all = gmmd.handler.handle_line(R"({"op":"watch"})", owner(1));
  CHECK(body_of(proto::decode_reply(all.reply))["node"] == 3);
  CHECK(all.starts_watch);
  CHECK(all.watch_events == 0);

  Handled some = gmmd.handler.handle_line(R"({"op":"watch","events":["node-failed","message"]})", owner(2));
  body_of(proto::decode_reply(some.reply));
  CHECK(some.starts_watch);
  CHECK(some.watch_events == (proto::event_bit(layout::EventKind::kNodeFailed) | proto::kMessageEventBit));

  Handled bad = gmmd.handler.handle_line(R"({"op":"watch","events":["nothing"]})", owner(3));
  CHECK(refusal_of(proto::decode_reply(bad.reply)).code == Errc::kInvalidArgument);
  CHECK_FALSE(bad.starts_watch);
}

TEST_CASE("gmmd handler: send puts a message in each member's mailbox and refuses non-members before sending any",
          "[gmmd][handler]") {
  QuietLog quiet;
  TempPool pool;
  PollingDoorbell bell;
  Messenger messenger0(*pool.pool, 0, bell);
  Messenger at1(*pool.pool, 1, bell);
  Gmmd node0(pool, 0, &messenger0);
  Gmmd node1(pool, 1);
  const std::string hi = proto::base64_encode("hi");

  json sent = body_of(call(node0.handler, other(1), {{"op", "send"}, {"to", 1}, {"kind", 2000}, {"data_b64", hi}}));
  CHECK(sent["sent_to"] == json::array({1}));
  auto message = at1.receive();
  REQUIRE(message);
  CHECK(message->from == 0);
  CHECK(message->kind == 2000);
  CHECK(message->text() == "hi");

  sent = body_of(call(node0.handler, owner(1), {{"op", "send"}, {"to", "all"}, {"kind", 2001}, {"data_b64", hi}}));
  CHECK(sent["sent_to"] == json::array({0, 1}));  // the sender is a member too
  CHECK(messenger0.receive()->kind == 2001);
  CHECK(at1.receive()->kind == 2001);

  Error absent = refusal_of(call(node0.handler, owner(1),
                                 {{"op", "send"}, {"nodes", json::array({1, 2})}, {"kind", 2002}, {"data_b64", hi}}));
  CHECK(absent.code == Errc::kNotFound);
  CHECK_THAT(absent.message, Catch::Contains("node 2 is not a member"));
  Error beyond = refusal_of(call(node0.handler, owner(1), {{"op", "send"}, {"to", 9}, {"kind", 2002}, {"data_b64", hi}}));
  CHECK(beyond.code == Errc::kInvalidArgument);
  CHECK_FALSE(at1.receive());  // nothing was sent
  CHECK(refusal_of(call(node0.handler, owner(1), {{"op", "send"}, {"to", 1}, {"kind", 7}, {"data_b64", hi}})).code ==
        Errc::kInvalidArgument);  // GMM's own kinds

  Error no_messenger = refusal_of(call(node1.handler, owner(1), {{"op", "send"}, {"to", 0}, {"kind", 2000}, {"data_b64", hi}}));
  CHECK(no_messenger.code == Errc::kIo);
}
