// The real gmm-agent binary, served over a pseudo-terminal (a tty like the
// guest's /dev/hvc0, so raw mode matters), driven by AgentClient.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "agent_client.hpp"

using gmm::Errc;
using gmm::host::AgentClient;
using namespace std::chrono_literals;

namespace {

// gmm-agent on the slave side of a fresh pty; the client owns the master.
class AgentOnPty {
 public:
  AgentOnPty() {
    int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(master >= 0);
    REQUIRE(::grantpt(master) == 0);
    REQUIRE(::unlockpt(master) == 0);
    std::string slave = ::ptsname(master);
    // held open, else the master reads EIO until the agent has opened the slave
    slave_fd_ = ::open(slave.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(slave_fd_ >= 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::execl(GMM_AGENT_BIN, GMM_AGENT_BIN, slave.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    client_.emplace(AgentClient::adopt(master));
  }
  ~AgentOnPty() {
    client_.reset();
    ::kill(pid_, SIGKILL);  // not SIGTERM: before its exec the child still has Catch's handlers
    ::waitpid(pid_, nullptr, 0);
    ::close(slave_fd_);
  }
  AgentClient& client() { return *client_; }

 private:
  pid_t pid_ = -1;
  int slave_fd_ = -1;
  std::optional<AgentClient> client_;
};

}  // namespace

TEST_CASE("gmm-agent over a tty: ping, commands, statuses, limits", "[agent_client][agent]") {
  AgentOnPty agent;
  auto& client = agent.client();
  auto ready = client.wait_ready(10s);
  INFO((ready.ok() ? "" : ready.error().message));
  REQUIRE(ready.ok());

  SECTION("stdout, stderr and the exit status are kept apart") {
    auto output = client.run({"sh", "-c", "echo out; echo err >&2; exit 3"}, 10s);
    REQUIRE(output.ok());
    CHECK(output->status == 3);
    CHECK(output->out == "out\n");
    CHECK(output->err == "err\n");
    CHECK(!output->truncated);
  }
  SECTION("2 MiB of output is cut at 1 MiB and flagged") {
    auto output = client.run({"sh", "-c", "head -c 2097152 /dev/zero | tr '\\0' x"}, 30s);
    REQUIRE(output.ok());
    CHECK(output->status == 0);
    CHECK(output->out.size() == 1048576);
    CHECK(output->out.find_first_not_of('x') == std::string::npos);
    CHECK(output->truncated);
  }
  SECTION("bytes that are not UTF-8 arrive as U+FFFD") {
    auto output = client.run({"printf", "a\\377b"}, 10s);
    REQUIRE(output.ok());
    CHECK(output->out == "a\xEF\xBF\xBD" "b");
  }
  SECTION("stdin and env reach the command") {
    AgentClient::RunOptions options;
    options.stdin_data = "line 1\nline 2\n";
    options.env = {{"GMM_TEST_VALUE", "42"}};
    auto output = client.run({"sh", "-c", "wc -l; echo $GMM_TEST_VALUE"}, 10s, options);
    REQUIRE(output.ok());
    CHECK(output->out == "2\n42\n");
  }
  SECTION("a missing program is the agent's error") {
    auto output = client.run({"/nonexistent/program"}, 10s);
    REQUIRE(!output.ok());
    CHECK(output.error().code == Errc::kInvalidArgument);
    CHECK_THAT(output.error().message, Catch::Contains("cannot run /nonexistent/program: No such file"));
  }
  SECTION("a command past its timeout is killed with its children") {
    auto started = std::chrono::steady_clock::now();
    auto output = client.run({"sh", "-c", "sleep 30 | cat"}, 300ms);
    REQUIRE(!output.ok());
    CHECK_THAT(output.error().message, Catch::Contains("timed out after 300 ms"));
    CHECK(std::chrono::steady_clock::now() - started < 5s);
  }
  SECTION("a background child that keeps the pipes open does not hold the reply") {
    auto output = client.run({"sh", "-c", "sleep 5 & echo started"}, 10s);
    REQUIRE(output.ok());
    CHECK(output->out == "started\n");
  }
  SECTION("commands run concurrently; replies come as they finish") {
    auto slow = client.start({"sh", "-c", "sleep 1; echo slow"}, 10s);
    auto fast = client.start({"echo", "fast"}, 10s);
    REQUIRE((slow.ok() && fast.ok()));
    auto started = std::chrono::steady_clock::now();
    auto fast_output = client.wait(*fast);
    REQUIRE(fast_output.ok());
    CHECK(fast_output->out == "fast\n");
    CHECK(std::chrono::steady_clock::now() - started < 900ms);
    auto slow_output = client.wait(*slow);
    REQUIRE(slow_output.ok());
    CHECK(slow_output->out == "slow\n");
  }
}
