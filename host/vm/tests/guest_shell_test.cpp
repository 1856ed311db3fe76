// GuestShell against a stand-in guest: an interactive sh (prompts on) whose
// stdin/stdout is the accepted "virtconsole" connection.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_shell.hpp"
#include "io/unix_socket.hpp"
#include "vm_test_support.hpp"

using namespace gmm::host::vm;
using namespace std::chrono_literals;

namespace {

// Listens on PATH like QEMU's chardev (server=on) and, on connection, runs
// `sh -i` on it after `delay` (a guest still booting).
struct FakeGuest {
  FakeGuest(const std::string& path, std::chrono::milliseconds delay) {
    auto listener = gmm::listen_unix(path);
    REQUIRE(listener);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      pollfd p{listener->get(), POLLIN, 0};
      ::poll(&p, 1, 10000);
      int conn = ::accept(listener->get(), nullptr, nullptr);
      ::usleep(static_cast<useconds_t>(delay.count() * 1000));
      ::dup2(conn, 0);
      ::dup2(conn, 1);
      ::dup2(conn, 2);
      ::execlp("sh", "sh", "-i", static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~FakeGuest() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  pid_t pid = -1;
};

}  // namespace

TEST_CASE("guest shell: ready, output, status, stderr, stdin closed, timeouts", "[guest_shell]") {
  test::TempDir dir;
  const std::string path = dir.path + "/node0.ctl";
  FakeGuest guest(path, 1500ms);
  auto shell = GuestShell::connect(path, 5s);
  REQUIRE(shell);
  REQUIRE(shell->wait_ready(20s));

  auto out = shell->run("echo hello; echo oops >&2; exit 3", 5s);
  REQUIRE(out);
  CHECK(out->status == 3);
  CHECK(out->text == "hello\noops");
  auto partial = shell->run("printf 'no newline'", 5s);
  REQUIRE(partial);
  CHECK(partial->text == "no newline");
  CHECK(partial->status == 0);
  auto reads_stdin = shell->run("cat; echo done", 5s);  // stdin is /dev/null, not the channel
  REQUIRE(reads_stdin);
  CHECK(reads_stdin->text == "done");
  auto empty = shell->run("true", 5s);
  REQUIRE(empty);
  CHECK(empty->text.empty());
  auto many = shell->run("seq 1 2000", 10s);
  REQUIRE(many);
  CHECK(many->text.size() == 8892);  // "1\n...\n2000": 6893 digits, 1999 newlines, no marker lines

  auto slow = shell->run("sleep 3", 300ms);
  REQUIRE_FALSE(slow);
  CHECK(slow.error().message.find("timed out") != std::string::npos);
}

TEST_CASE("guest shell: nobody there", "[guest_shell]") {
  test::TempDir dir;
  auto shell = GuestShell::connect(dir.path + "/missing.ctl", 100ms);
  REQUIRE_FALSE(shell);
  CHECK(shell.error().message.find("No such file") != std::string::npos);
}
