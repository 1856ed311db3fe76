// LineReader over a socketpair (what QMP, the shells and gmmd's clients read),
// a pipe (a character device's read()) and a pty (a tty, as the host sees a
// guest agent's console).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "io/line_reader.hpp"
#include "io/unix_socket.hpp"

using gmm::Deadline;
using gmm::LineReader;
using gmm::UniqueFd;
using Got = LineReader::Got;
using namespace std::chrono_literals;

namespace {

struct SocketPair {
  SocketPair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    ours.reset(fds[0]);
    theirs.reset(fds[1]);
  }
  void send(const std::string& bytes) const { REQUIRE(gmm::write_all(theirs.get(), bytes).ok()); }
  UniqueFd ours, theirs;
};

Deadline passed() { return Deadline(0ms); }

}  // namespace

TEST_CASE("LineReader: lines without their ending, '\\r' before '\\n' included, empty lines kept", "[line_reader]") {
  SocketPair pair;
  LineReader reader(pair.ours.get());
  pair.send("first\r\n\nsecond\r\r\nthird\rmiddle\nparti");
  for (const char* expected : {"first", "", "second", "third\rmiddle"}) {
    auto read = reader.next_line(Deadline(1s));
    REQUIRE(read.got == Got::kLine);
    CHECK(read.text == expected);
  }
  CHECK(reader.next_line(passed()).got == Got::kTimedOut);
  pair.send("al\n");
  auto rest = reader.next_line(Deadline(1s));
  REQUIRE(rest.got == Got::kLine);
  CHECK(rest.text == "partial");
}

TEST_CASE("LineReader: the deadline ends the wait, and a passed one only takes what is there", "[line_reader]") {
  SocketPair pair;
  LineReader reader(pair.ours.get());
  const auto start = std::chrono::steady_clock::now();
  CHECK(reader.next_line(Deadline(50ms)).got == Got::kTimedOut);
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
  pair.send("ready\n");
  auto read = reader.next_line(passed());
  REQUIRE(read.got == Got::kLine);
  CHECK(read.text == "ready");
}

TEST_CASE("LineReader: the other end closing is kClosed, after the lines it sent", "[line_reader]") {
  SocketPair pair;
  LineReader reader(pair.ours.get());
  pair.send("last\nunfinished");
  pair.theirs.reset();
  auto read = reader.next_line(Deadline(1s));
  REQUIRE(read.got == Got::kLine);
  CHECK(read.text == "last");
  CHECK(reader.next_line(Deadline(1s)).got == Got::kClosed);
}

TEST_CASE("LineReader: a line over the limit is reported once and skipped, even while it still arrives", "[line_reader]") {
  SocketPair pair;
  LineReader reader(pair.ours.get());
  pair.send("short\n" + std::string(20, 'x') + "\nok\n" + std::string(30, 'y'));
  CHECK(reader.next_line(Deadline(1s), 10).text == "short");
  CHECK(reader.next_line(Deadline(1s), 10).got == Got::kTooLong);
  CHECK(reader.next_line(Deadline(1s), 10).text == "ok");
  CHECK(reader.next_line(Deadline(1s), 10).got == Got::kTooLong);  // no '\n' yet
  pair.send(std::string(30, 'y') + "\nafter\n");
  auto after = reader.next_line(Deadline(1s), 10);
  REQUIRE(after.got == Got::kLine);
  CHECK(after.text == "after");
  CHECK(reader.next_line(Deadline(1s), 10).got == Got::kTimedOut);
}

TEST_CASE("LineReader: descriptors sent with a line are kept for the caller", "[line_reader]") {
  SocketPair pair;
  LineReader reader(pair.ours.get());
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  const std::string text = "with a descriptor\n";
  const int sent = write_end.get();
  REQUIRE(gmm::send_with_descriptors(pair.theirs.get(), text, {&sent, 1}, 0) == static_cast<ssize_t>(text.size()));
  auto read = reader.next_line(Deadline(1s));
  REQUIRE(read.got == Got::kLine);
  CHECK(read.text == "with a descriptor");
  REQUIRE(reader.descriptors().size() == 1);
  CHECK(::write(reader.descriptors().front().get(), "!", 1) == 1);  // the pipe's write end
  char got = 0;
  CHECK(::read(read_end.get(), &got, 1) == 1);
  CHECK(got == '!');
}

TEST_CASE("LineReader: a descriptor that is no socket is read() (a character device, a pipe)", "[line_reader]") {
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) == 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  LineReader reader(read_end.get());
  CHECK(reader.next_line(passed()).got == Got::kTimedOut);
  REQUIRE(gmm::write_all(write_end.get(), "from a pipe\r\n").ok());
  auto read = reader.next_line(passed());
  REQUIRE(read.got == Got::kLine);
  CHECK(read.text == "from a pipe");
  write_end.reset();
  CHECK(reader.next_line(Deadline(1s)).got == Got::kClosed);
}

TEST_CASE("LineReader: a tty hung up on the other side is kClosed, not a failure", "[line_reader]") {
  UniqueFd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
  REQUIRE(master);
  REQUIRE(::grantpt(master.get()) == 0);
  REQUIRE(::unlockpt(master.get()) == 0);
  UniqueFd slave(::open(::ptsname(master.get()), O_RDWR | O_NOCTTY | O_CLOEXEC));
  REQUIRE(slave);
  LineReader reader(master.get());
  REQUIRE(gmm::write_all(slave.get(), "from a tty\n").ok());  // "\r\n" on the master (onlcr)
  auto read = reader.next_line(Deadline(1s));
  REQUIRE(read.got == Got::kLine);
  CHECK(read.text == "from a tty");
  slave.reset();  // the master now reads EIO
  auto hung_up = reader.next_line(Deadline(1s));
  INFO(hung_up.text);
  CHECK(hung_up.got == Got::kClosed);
}
