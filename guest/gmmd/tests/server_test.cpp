// gmmd's socket side with a real unix socket in a temp dir: the Listener's
// rules for the socket file, and the Server loop in a thread of its own
// (as in gmmd, where it is the main thread) over a real pool and node:
// requests and replies, SO_PEERCRED, malformed and oversized lines, the
// window descriptor, watchers and their events, and what a client that
// hangs up leaves behind. No timing is asserted: every wait is for a
// condition, with a generous deadline.
#include "gmmd/server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "file/file_window.hpp"
#include "gmmd/handler.hpp"
#include "gmmd/inbox.hpp"
#include "gmmd_test_support.hpp"
#include "io/line_reader.hpp"
#include "io/unix_socket.hpp"
#include "pool_fixture.hpp"
#include "proto/client.hpp"
#include "proto/proto.hpp"
#include "testing/temp_dir.hpp"

using namespace gmm;
using namespace gmm::gmmd;
using namespace gmm::test;
using namespace std::chrono_literals;
using layout::EventKind;
using nlohmann::json;

namespace {

// Long enough for a loaded machine; only ever waited out when a test fails.
constexpr auto kPatience = 30s;

Listener open_listener(const std::string& path) {
  auto listener = Listener::open(path);
  INFO((listener ? "" : listener.error().message));
  REQUIRE(listener);
  return std::move(*listener);
}

// Waits until `condition` holds; false if it still does not after kPatience.
template <class Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// gmmd's server for node 0 of a fresh pool, on DIR/gmmd.sock, serving in a
// thread until stop() (the inbox's stop), signal() (a signalfd record on the
// descriptor it polls for signals) or the end of the test.
class RunningServer {
 public:
  RunningServer()
      : node_(pool_.node(0)),
        windows_(pool_.path, pool_.pool->size()),
        handler_(*node_, &windows_),
        listener_(open_listener(dir_.path + "/gmmd.sock")) {
    ::signal(SIGPIPE, SIG_IGN);  // as gmmd: a client's hang-up is an error return, not a signal
    spdlog::set_level(spdlog::level::warn);
    REQUIRE(inbox_.fd() >= 0);
    REQUIRE(::pipe2(signal_pipe_, O_CLOEXEC) == 0);
    server_.emplace(listener_, handler_, events_, inbox_);
    thread_ = std::thread([this] { result_ = server_->run(signal_pipe_[0]); });
  }
  ~RunningServer() {
    stop();
    ::close(signal_pipe_[0]);
    ::close(signal_pipe_[1]);
    spdlog::set_level(spdlog::level::info);
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  const std::string& path() const { return listener_.path(); }
  EventService& events() { return events_; }
  ServerInbox& inbox() { return inbox_; }
  const Pool& pool() const { return *pool_.pool; }

  // What run() returned once it stopped.
  int stop() {
    if (thread_.joinable()) {
      inbox_.post_stop();
      thread_.join();
    }
    return result_;
  }
  int signal(int signo) {
    signalfd_siginfo info{};
    info.ssi_signo = static_cast<std::uint32_t>(signo);
    REQUIRE(::write(signal_pipe_[1], &info, sizeof info) == static_cast<ssize_t>(sizeof info));
    thread_.join();
    return result_;
  }
  // Stops the loop and destroys the server, as gmmd does on its way out:
  // every connection is closed. The handler stays, for inspection.
  RequestHandler& finish() {
    stop();
    server_.reset();
    return handler_;
  }

 private:
  TempDir dir_;
  TempPool pool_;
  std::unique_ptr<Node> node_;
  FileWindowSource windows_;
  RequestHandler handler_;
  EventService events_;
  ServerInbox inbox_;
  Listener listener_;
  std::optional<Server> server_;
  int signal_pipe_[2] = {-1, -1};
  int result_ = -2;
  std::thread thread_;
};

// One raw connection to the server: JSON lines out, lines in.
class Connection {
 public:
  explicit Connection(const std::string& path) : fd_(connected(path)), reader_(fd_.get()) {}

  void send(std::string_view bytes) const { REQUIRE(write_all(fd_.get(), bytes).ok()); }
  void finish_sending() const { ::shutdown(fd_.get(), SHUT_WR); }
  void hang_up() { fd_.reset(); }
  int fd() const { return fd_.get(); }

  LineReader::Read next() { return reader_.next_line(Deadline(kPatience)); }
  std::string line() {
    LineReader::Read read = next();
    if (read.got != LineReader::Got::kLine) FAIL("expected a line from gmmd, got none (" << read.text << ")");
    return read.text;
  }
  // The next thing from the server is its hang-up.
  bool closed_by_server() { return next().got == LineReader::Got::kClosed; }

  Result<json> call(const json& request) {
    send(request.dump() + "\n");
    return proto::decode_reply(line());
  }
  // The descriptor that came with the last reply (SCM_RIGHTS).
  UniqueFd descriptor() {
    REQUIRE(reader_.descriptors().size() == 1);
    UniqueFd fd = std::move(reader_.descriptors().front());
    reader_.descriptors().pop_front();
    return fd;
  }

 private:
  static UniqueFd connected(const std::string& path) {
    auto fd = connect_unix(path);
    INFO((fd ? "" : fd.error().message));
    REQUIRE(fd);
    return std::move(*fd);
  }
  UniqueFd fd_;
  LineReader reader_;
};

// The sharers of section `name` as `ls` shows them (-1: not listed).
int sharers_of(Connection& client, const std::string& name) {
  json ls = body_of(client.call({{"op", "ls"}}));
  UNSCOPED_INFO(ls.dump());
  for (const json& section : ls["sections"]) {
    if (section["name"] == name) return section["sharers"].get<int>();
  }
  return -1;
}

proto::WatchLine watch_line(Connection& watcher) {
  std::string line = watcher.line();
  auto decoded = proto::decode_watch_line(line);
  INFO(line);
  REQUIRE(decoded);
  return *decoded;
}

Event event_line(Connection& watcher) {
  proto::WatchLine line = watch_line(watcher);
  REQUIRE(std::holds_alternative<Event>(line));
  return std::get<Event>(line);
}

Event event(EventKind kind, std::uint32_t node, std::uint64_t sequence) { return Event{kind, node, 1, sequence}; }

}  // namespace

TEST_CASE("gmmd listener: replaces a stale socket, refuses a live one or another kind of file, removes only its own",
          "[gmmd][server]") {
  TempDir dir;
  const std::string path = dir.path + "/gmmd.sock";

  test::write_text(path, "not a socket");
  auto refused = Listener::open(path);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::kExists);
  CHECK_THAT(refused.error().message, Catch::Contains("is not a socket"));
  struct stat file;
  REQUIRE(::lstat(path.c_str(), &file) == 0);
  CHECK(S_ISREG(file.st_mode));  // left alone
  ::unlink(path.c_str());

  {
    // A socket file nobody listens on any more (a gmmd that was killed).
    UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto address = unix_address(path);
    REQUIRE(address);
    REQUIRE(::bind(stale.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof(sockaddr_un)) == 0);
  }
  std::optional<Listener> first(open_listener(path));
  struct stat bound;
  REQUIRE(::stat(path.c_str(), &bound) == 0);
  CHECK(S_ISSOCK(bound.st_mode));
  CHECK((bound.st_mode & 0777) == 0666);  // every local user may connect; requests are checked per caller

  auto second = Listener::open(path);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == Errc::kExists);
  CHECK_THAT(second.error().message, Catch::Contains("already serving"));

  // A successor took the path over: the first one's end leaves it alone.
  ::unlink(path.c_str());
  std::optional<Listener> successor(open_listener(path));
  first.reset();
  CHECK(connect_unix(path));
  successor.reset();
  CHECK(::lstat(path.c_str(), &bound) != 0);  // its own socket it removes
}

TEST_CASE("gmmd server: each connection is a client known by SO_PEERCRED, answered request by request, in order",
          "[gmmd][server]") {
  RunningServer server;

  // Through the client gmmctl uses.
  auto client = proto::Client::connect(server.path());
  REQUIRE(client);
  proto::Request whoami;
  whoami.op = proto::Op::kWhoami;
  json me = body_of(client->call(whoami, kPatience));
  CHECK(me["pid"] == ::getpid());
  CHECK(me["uid"] == ::getuid());
  CHECK(me["gid"] == ::getgid());
  CHECK(me["node"] == 0);
  CHECK(me["handles"] == 0);
  const std::uint64_t first = me["client"];
  CHECK(first >= 1);

  Connection raw(server.path());
  const std::uint64_t second = body_of(raw.call({{"op", "whoami"}}))["client"];
  CHECK(second != first);
  CHECK(body_of(client->call(whoami, kPatience))["client"] == first);  // the same client as long as it is connected

  // Pipelined requests are answered one by one, in order.
  raw.send(R"({"op":"alloc","name":"a","size":4096,"where":"local"})" "\n"
           R"({"op":"alloc","name":"a","size":4096,"where":"local"})" "\n"
           R"({"op":"ls"})" "\n");
  CHECK(body_of(proto::decode_reply(raw.line()))["section"]["name"] == "a");
  CHECK(refusal_of(proto::decode_reply(raw.line())).code == Errc::kExists);
  CHECK(body_of(proto::decode_reply(raw.line()))["sections"].size() == 1);

  // A last request without its newline still counts once the client stops sending.
  Connection last(server.path());
  last.send(R"({"op":"ping"})");
  last.finish_sending();
  CHECK(body_of(proto::decode_reply(last.line()))["node"] == 0);
  CHECK(last.closed_by_server());
}

TEST_CASE("gmmd server: a malformed line gets an invalid-argument reply and the connection goes on, an endless one is closed",
          "[gmmd][server]") {
  RunningServer server;
  Connection stalled(server.path());
  stalled.send(R"({"op":)");  // never finished: stalls only itself

  Connection client(server.path());
  for (const char* bad : {"this is not json", R"({"op":"launch"})", R"({"op":"open"})"}) {
    INFO(bad);
    client.send(std::string(bad) + "\n");
    Error error = refusal_of(proto::decode_reply(client.line()));
    CHECK(error.code == Errc::kInvalidArgument);
  }
  CHECK(body_of(client.call({{"op", "ping"}}))["node"] == 0);  // same connection

  // No newline within kMaxRequestLine bytes: no way to find the next request.
  Connection endless(server.path());
  endless.send(std::string(proto::kMaxRequestLine + 1, 'x'));
  Error refused = refusal_of(proto::decode_reply(endless.line()));
  CHECK(refused.code == Errc::kInvalidArgument);
  CHECK_THAT(refused.message, Catch::Contains("longer than " + std::to_string(proto::kMaxRequestLine) + " bytes"));
  CHECK(endless.closed_by_server());

  CHECK(body_of(client.call({{"op", "ping"}}))["node"] == 0);
  stalled.send("\"ping\"}\n");  // finished at last
  CHECK(body_of(proto::decode_reply(stalled.line()))["node"] == 0);
}

TEST_CASE("gmmd server: acquire's reply carries the section's window descriptor", "[gmmd][server]") {
  RunningServer server;
  Connection client(server.path());
  body_of(client.call({{"op", "alloc"}, {"name", "w"}, {"size", 4096}, {"where", "local"}}));
  body_of(client.call({{"op", "write"}, {"name", "w"}, {"offset", 0}, {"data_b64", proto::base64_encode("hello")}}));

  json window = body_of(client.call({{"op", "acquire"}, {"name", "w"}, {"access", "write"}}))["window"];
  UniqueFd fd = client.descriptor();
  const auto length = window["length"].get<std::size_t>();
  void* mapped = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), window["mmap_offset"].get<off_t>());
  REQUIRE(mapped != MAP_FAILED);
  CHECK(std::string(static_cast<const char*>(mapped), 5) == "hello");
  std::memcpy(mapped, "HELLO", 5);
  ::munmap(mapped, length);
  json read = body_of(client.call({{"op", "read"}, {"name", "w"}, {"offset", 0}, {"length", 5}}));
  CHECK(proto::base64_decode(read["data_b64"].get<std::string>()) == "HELLO");
  CHECK(body_of(client.call({{"op", "whoami"}}))["handles"] == 1);
}

TEST_CASE("gmmd server: watchers get the node's application-phase events of the kinds they asked for, messages if asked",
          "[gmmd][server]") {
  RunningServer server;
  Connection all(server.path());       // no "events": every membership kind, no messages
  Connection joins(server.path());     // node-joined only
  Connection messages(server.path());  // application messages only
  CHECK(body_of(all.call({{"op", "watch"}}))["node"] == 0);
  body_of(joins.call({{"op", "watch"}, {"events", json::array({"node-joined"})}}));
  body_of(messages.call({{"op", "watch"}, {"events", json::array({"message"})}}));
  all.send(R"({"op":"ping"})" "\n");  // a watcher's input is ignored: no reply comes

  // As the agent thread does: deliver events (the server's subscriptions
  // post them to the inbox) and post messages for every message watcher.
  EventService& events = server.events();
  const auto app = EventService::Phase::kApplication;
  const auto post_message = [&server](const std::string& text) {
    server.inbox().post_event(ServerInbox::kMessageWatchers,
                              proto::encode_message_event({2, 5000, 42, text}));
  };
  events.deliver(app, event(EventKind::kNodeFailed, 2, 7));
  events.deliver(app, event(EventKind::kNodeJoined, 3, 8));
  post_message("m1");
  events.deliver(EventService::Phase::kSystem, event(EventKind::kMemoryLost, 1, 9));  // gmmd's own phase
  events.deliver(app, event(EventKind::kNodeLeaving, 1, 10));
  events.deliver(app, event(EventKind::kNodeJoined, 2, 11));
  post_message("m2");

  for (std::uint64_t sequence : {7, 8, 10, 11}) CHECK(event_line(all).sequence == sequence);
  Event joined = event_line(joins);
  CHECK(joined.kind == EventKind::kNodeJoined);
  CHECK(joined.node == 3);
  CHECK(joined.sequence == 8);
  CHECK(event_line(joins).sequence == 11);
  for (const char* text : {"m1", "m2"}) {
    proto::WatchLine line = watch_line(messages);
    REQUIRE(std::holds_alternative<proto::AppMessage>(line));
    CHECK(std::get<proto::AppMessage>(line) == proto::AppMessage{2, 5000, 42, text});
  }

  // Nothing else came (no ping reply, no system-phase event, no message for
  // the others): the next lines are these.
  events.deliver(app, event(EventKind::kNodeJoined, 1, 12));
  post_message("m3");
  CHECK(event_line(all).sequence == 12);
  CHECK(event_line(joins).sequence == 12);
  proto::WatchLine line = watch_line(messages);
  REQUIRE(std::holds_alternative<proto::AppMessage>(line));
  CHECK(std::get<proto::AppMessage>(line).data == "m3");
}

TEST_CASE("gmmd server: a client that hangs up is cleaned up: its sections released, its mutexes abandoned",
          "[gmmd][server]") {
  RunningServer server;
  Connection observer(server.path());
  {
    Connection client(server.path());
    body_of(client.call({{"op", "alloc"}, {"name", "s"}, {"size", 4096}, {"where", "local"}}));
    body_of(client.call({{"op", "acquire"}, {"name", "s"}, {"access", "read"}}));
    body_of(client.call({{"op", "mutex_create"}, {"name", "m"}}));
    body_of(client.call({{"op", "mutex_lock"}, {"name", "m"}}));
    CHECK(sharers_of(observer, "s") == 2);  // gmmd's share (alloc) and the client's (acquire)
    CHECK(refusal_of(observer.call({{"op", "mutex_lock"}, {"name", "m"}})).code == Errc::kBusy);
    client.hang_up();  // as an exit, a crash or SIGKILL would
  }
  CHECK(eventually([&] { return sharers_of(observer, "s") == 1; }));
  CHECK(body_of(observer.call({{"op", "mutex_lock"}, {"name", "m"}}))["abandoned"] == true);

  // A watcher that hangs up goes too; the others are served as before.
  {
    Connection watcher(server.path());
    body_of(watcher.call({{"op", "watch"}}));
    watcher.hang_up();
  }
  server.events().deliver(EventService::Phase::kApplication, event(EventKind::kNodeFailed, 2, 1));
  CHECK(body_of(observer.call({{"op", "ping"}}))["node"] == 0);
  REQUIRE_POOL_CLEAN(server.pool());
}

TEST_CASE("gmmd server: a watcher that does not read its events is dropped, other clients are served meanwhile",
          "[gmmd][server]") {
  RunningServer server;
  Connection watcher(server.path());
  const std::uint64_t serial = body_of(watcher.call({{"op", "whoami"}}))["client"];
  body_of(watcher.call({{"op", "watch"}}));

  // More than the socket can hold plus the server's backlog for it. The
  // server's socket has the defaults ours has; doubled for good measure.
  int buffer = 0;
  socklen_t size = sizeof buffer;
  REQUIRE(::getsockopt(watcher.fd(), SOL_SOCKET, SO_SNDBUF, &buffer, &size) == 0);
  const std::string line(16 * 1024, 'e');
  const std::size_t lines = (2 * static_cast<std::size_t>(buffer) + Server::kMaxWatchBacklog) / line.size() + 8;
  REQUIRE(lines < ServerInbox::kMaxQueued);
  for (std::size_t i = 0; i < lines; ++i) server.inbox().post_event(serial, line);

  Connection other(server.path());
  CHECK(body_of(other.call({{"op", "ping"}}))["node"] == 0);

  std::size_t received = 0;
  for (;;) {
    LineReader::Read read = watcher.next();
    if (read.got != LineReader::Got::kLine) {
      CHECK(read.got == LineReader::Got::kClosed);
      break;
    }
    CHECK(read.text == line);
    ++received;
  }
  CHECK(received < lines);
  CHECK(body_of(other.call({{"op", "ping"}}))["node"] == 0);
}

TEST_CASE("gmmd server: stops for the inbox (0) or a signal (its number) and on its way out lets every client go",
          "[gmmd][server]") {
  SECTION("the inbox") {
    RunningServer server;
    Connection client(server.path());
    body_of(client.call({{"op", "alloc"}, {"name", "s"}, {"size", 4096}, {"where", "local"}}));
    body_of(client.call({{"op", "acquire"}, {"name", "s"}, {"access", "read"}}));
    const std::uint64_t serial = body_of(client.call({{"op", "whoami"}}))["client"];
    CHECK(server.stop() == 0);
    RequestHandler& handler = server.finish();
    CHECK(handler.handles_of(serial) == 0);
    CHECK(client.closed_by_server());
    REQUIRE_POOL_CLEAN(server.pool());
  }
  SECTION("a signal") {
    RunningServer server;
    Connection client(server.path());
    CHECK(body_of(client.call({{"op", "ping"}}))["node"] == 0);
    CHECK(server.signal(SIGTERM) == SIGTERM);
    server.finish();
    CHECK(client.closed_by_server());
  }
}
