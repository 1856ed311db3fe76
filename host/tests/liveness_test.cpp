// The liveness stream and the pidfd process handle, on child processes of
// the test: an exit is an event the stream sleeps for, not something it
// polls for.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "gmm/clock.hpp"
#include "gmm/unique_fd.hpp"
#include "launcher/liveness.hpp"
#include "launcher/process_handle.hpp"

namespace {

using namespace gmm::host;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A child that sleeps until killed; reaped by the handle's exit_description
// or at scope end.
struct Sleeper {
  Sleeper() {
    pid = ::fork();
    if (pid == 0) {
      ::execlp("sleep", "sleep", "60", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~Sleeper() {
    if (::waitpid(pid, nullptr, WNOHANG) != 0) return;  // reaped already: the pid may be another's now
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  pid_t pid;
};

ProcessHandle open_handle(pid_t pid) {
  auto handle = ProcessHandle::open(pid, [] { return true; });
  REQUIRE(handle);
  REQUIRE(handle->has_value());
  return std::move(**handle);
}

// Events written into a pipe, one byte per event, as a second kind of source.
class PipeSource : public EventSource {
 public:
  PipeSource(std::uint32_t node, int read_end) : node_(node), fd_(read_end) {}
  int fd() const override { return fd_.get(); }
  Read read() override {
    char byte = 0;
    Read read;
    if (::read(fd_.get(), &byte, 1) != 1) {
      read.ended = true;
      return read;
    }
    read.events.push_back(NodeEvent{node_, byte == 's' ? NodeEventKind::kStopped : NodeEventKind::kResumed, 0, ""});
    return read;
  }

 private:
  std::uint32_t node_;
  gmm::UniqueFd fd_;
};

}  // namespace

TEST_CASE("a process handle signals and waits for its process, and finds none for a pid that is not the expected program",
          "[liveness]") {
  Sleeper sleeper;
  ProcessHandle handle = open_handle(sleeper.pid);
  CHECK(handle.pid() == sleeper.pid);
  CHECK_FALSE(handle.wait_exit(50ms));

  auto other_program = ProcessHandle::open(sleeper.pid, [] { return false; });
  REQUIRE(other_program);
  CHECK_FALSE(other_program->has_value());
  auto no_pid = ProcessHandle::open(0, [] { return true; });
  REQUIRE(no_pid);
  CHECK_FALSE(no_pid->has_value());

  REQUIRE(gmm::host::kill_and_wait(handle, "the sleeper", 5s).ok());
  CHECK(handle.wait_exit(0ms));
  CHECK(handle.exit_description() == "was killed by signal Killed");  // our child: reaped here
  CHECK(handle.signal(SIGKILL).ok());  // gone: nothing to do, no error
}

TEST_CASE("the liveness stream sleeps until a watched process exits, then reports it once", "[liveness]") {
  Sleeper first;
  Sleeper second;
  auto stream = LivenessStream::create();
  REQUIRE(stream);
  REQUIRE(stream->add(std::make_unique<ProcessExitSource>(1, open_handle(first.pid), "gmmd")).ok());
  REQUIRE(stream->add(std::make_unique<ProcessExitSource>(2, open_handle(second.pid), "gmmd")).ok());
  stream->report(NodeEvent{3, NodeEventKind::kExited, 1, "was not running when the watch began"});

  auto known = stream->next(0ms);  // what was reported comes first, without waiting
  REQUIRE(known);
  REQUIRE(known->has_value());
  CHECK((*known)->node == 3);

  auto start = Clock::now();
  auto quiet = stream->next(200ms);
  REQUIRE(quiet);
  CHECK_FALSE(quiet->has_value());
  CHECK(Clock::now() - start >= 190ms);  // it waited, and nothing happened

  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    ::kill(second.pid, SIGKILL);
  });
  const std::uint64_t before = gmm::realtime_ns();
  auto exited = stream->next(10s);
  killer.join();
  REQUIRE(exited);
  REQUIRE(exited->has_value());
  const NodeEvent& event = **exited;
  CHECK(event.node == 2);
  CHECK(event.kind == NodeEventKind::kExited);
  CHECK(event.time_ns >= before);
  CHECK(event.detail == "gmmd pid " + std::to_string(second.pid) + " was killed by signal Killed");
  CHECK_FALSE(stream->finished());  // node 1 is still watched

  ::kill(first.pid, SIGKILL);
  auto last = stream->next(10s);
  REQUIRE(last);
  REQUIRE(last->has_value());
  CHECK((*last)->node == 1);
  CHECK(stream->finished());
  auto after = stream->next(0ms);
  REQUIRE(after);
  CHECK_FALSE(after->has_value());
}

TEST_CASE("the liveness stream reads several sources and drops one that ended", "[liveness]") {
  int ends[2];
  REQUIRE(::pipe2(ends, O_CLOEXEC) == 0);
  gmm::UniqueFd write_end(ends[1]);
  auto stream = LivenessStream::create();
  REQUIRE(stream);
  REQUIRE(stream->add(std::make_unique<PipeSource>(4, ends[0])).ok());
  REQUIRE(::write(write_end.get(), "sr", 2) == 2);
  auto stopped = stream->next(5s);
  REQUIRE(stopped);
  REQUIRE(stopped->has_value());
  CHECK((*stopped)->kind == NodeEventKind::kStopped);
  auto resumed = stream->next(5s);
  REQUIRE(resumed);
  REQUIRE(resumed->has_value());
  CHECK((*resumed)->kind == NodeEventKind::kResumed);
  write_end.reset();  // end of the pipe: the source ends
  auto none = stream->next(1s);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  CHECK(stream->finished());
}

TEST_CASE("liveness events are named", "[liveness]") {
  CHECK(gmm::host::node_event_name(NodeEventKind::kExited) == "exited");
  CHECK(gmm::host::node_event_name(NodeEventKind::kStopped) == "stopped");
  CHECK(gmm::host::node_event_name(NodeEventKind::kResumed) == "resumed");
  CHECK(gmm::host::node_event_name(NodeEventKind::kPanicked) == "panicked");
  CHECK(gmm::host::node_event_name(NodeEventKind::kShutdown) == "shutdown");
}
