// Inter-node messages: point-to-point, multicast, broadcast, a full
// mailbox, a sender that died mid-send, many senders at once.
#include <cstring>
#include <thread>

#include "gmm/atomic.hpp"
#include "gmm/messages.hpp"
#include "pool_fixture.hpp"

using namespace gmm;
using namespace gmm::layout;
using gmm::test::TempPool;

namespace {

// Records rings instead of interrupting anybody.
struct RecordingDoorbell final : Doorbell {
  std::vector<std::uint32_t> rung;
  void ring(std::uint32_t peer, std::uint32_t) override { rung.push_back(peer); }
  bool wait(std::chrono::microseconds) override { return false; }
};

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

TEST_CASE("messages: point-to-point in order, with a doorbell per message", "[messages]") {
  TempPool t;
  RecordingDoorbell bell;
  Messenger from0(*t.pool, 0, bell), at2(*t.pool, 2, bell);
  REQUIRE(from0.send(2, kFirstApplicationMessage, bytes("first")).ok());
  REQUIRE(from0.send(2, kFirstApplicationMessage + 1, bytes("second")).ok());
  CHECK(bell.rung == std::vector<std::uint32_t>{2, 2});
  auto a = at2.receive();
  auto b = at2.receive();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->from == 0);
  CHECK(a->text() == "first");
  CHECK(b->kind == kFirstApplicationMessage + 1);
  CHECK(b->text() == "second");
  CHECK_FALSE(at2.receive());
}

TEST_CASE("messages: bad sends are refused clearly", "[messages]") {
  TempPool t;
  RecordingDoorbell bell;
  Messenger m(*t.pool, 0, bell);
  CHECK(m.send(4, 1, bytes("x")).error().code == Errc::kInvalidArgument);
  CHECK(m.send(1, 1, bytes(std::string(kMessagePayload + 1, 'x'))).error().code == Errc::kInvalidArgument);
  CHECK(bell.rung.empty());
}

TEST_CASE("messages: multicast and broadcast skip the sender", "[messages]") {
  TempPool t;
  auto n0 = t.node(0), n1 = t.node(1), n3 = t.node(3);  // members 0, 1, 3
  RecordingDoorbell bell;
  Messenger from1(*t.pool, 1, bell);
  REQUIRE(from1.multicast(0b1110, kFirstApplicationMessage, bytes("group")).ok());
  CHECK(bell.rung == std::vector<std::uint32_t>{2, 3});
  bell.rung.clear();
  REQUIRE(from1.broadcast(kFirstApplicationMessage, bytes("all")).ok());
  CHECK(bell.rung == std::vector<std::uint32_t>{0, 3});
  Messenger at3(*t.pool, 3, bell);
  CHECK(at3.receive()->text() == "group");
  CHECK(at3.receive()->text() == "all");
}

TEST_CASE("messages: a full mailbox refuses instead of overwriting", "[messages]") {
  TempPool t;
  RecordingDoorbell bell;
  Messenger from0(*t.pool, 0, bell), at1(*t.pool, 1, bell);
  for (std::uint32_t i = 0; i < kMailboxSlots; ++i) REQUIRE(from0.send(1, kFirstApplicationMessage + i, {}).ok());
  CHECK(from0.send(1, 1, {}).error().code == Errc::kBusy);
  CHECK(t.pool->mailbox(1).refused == 1);
  for (std::uint32_t i = 0; i < kMailboxSlots; ++i) CHECK(at1.receive()->kind == kFirstApplicationMessage + i);
  REQUIRE(from0.send(1, 7, {}).ok());
  CHECK(at1.receive()->kind == 7u);
}

TEST_CASE("messages: a position claimed by a sender that died is skipped", "[messages]") {
  TempPool t;
  RecordingDoorbell bell;
  Messenger from0(*t.pool, 0, bell), at1(*t.pool, 1, bell);
  fetch_add_acq_rel(t.pool->mailbox(1).tail, std::uint64_t{1});  // claimed, never published
  REQUIRE(from0.send(1, kFirstApplicationMessage, bytes("after")).ok());
  CHECK_FALSE(at1.receive());  // waits for the slow sender first
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto m = at1.receive();
  REQUIRE(m);
  CHECK(m->text() == "after");
  CHECK(t.pool->mailbox(1).skipped == 1);
}

TEST_CASE("messages: many senders at once lose nothing", "[messages][concurrent]") {
  TempPool t;
  RecordingDoorbell unused;
  std::vector<std::thread> senders;
  constexpr int kEach = 2000;
  for (std::uint32_t from = 1; from < 4; ++from)
    senders.emplace_back([&, from] {
      PollingDoorbell bell;
      Messenger m(*t.pool, from, bell);
      for (int i = 0; i < kEach; ++i) {
        const std::uint64_t value = (std::uint64_t{from} << 32) | static_cast<std::uint32_t>(i);
        while (!m.send(0, kFirstApplicationMessage, {reinterpret_cast<const std::uint8_t*>(&value), 8}))
          std::this_thread::yield();
      }
    });
  Messenger at0(*t.pool, 0, unused);
  std::vector<int> next(4, 0);
  int received = 0;
  while (received < 3 * kEach) {
    auto m = at0.receive();
    if (!m) {
      std::this_thread::yield();
      continue;
    }
    std::uint64_t value = 0;
    std::memcpy(&value, m->payload, 8);
    const auto from = static_cast<std::uint32_t>(value >> 32);
    REQUIRE(from == m->from);
    REQUIRE(static_cast<int>(value & 0xFFFFFFFF) == next[from]++);  // per-sender order kept
    ++received;
  }
  for (auto& s : senders) s.join();
  CHECK(next[1] == kEach);
  CHECK(next[2] == kEach);
  CHECK(next[3] == kEach);
}

// gmmd's case: the server thread sends through the Messenger whose node's
// agent thread is receiving through it at the same time (run under TSan by
// `make test`).
TEST_CASE("messages: one Messenger sends from one thread while its node receives in another", "[messages][concurrent]") {
  TempPool t;
  PollingDoorbell bell;
  Messenger node0(*t.pool, 0, bell);
  Messenger at1(*t.pool, 1, bell);
  constexpr std::uint32_t kEach = 2000;
  std::thread server([&] {
    for (std::uint32_t i = 0; i < kEach; ++i) {
      const std::span<const std::uint8_t> value{reinterpret_cast<const std::uint8_t*>(&i), sizeof i};
      while (!node0.send(0, kFirstApplicationMessage, value)) std::this_thread::yield();  // to itself
      while (!node0.send(1, kFirstApplicationMessage, value)) std::this_thread::yield();
    }
  });
  std::uint32_t next0 = 0, next1 = 0;
  auto expect_next = [](const ReceivedMessage& m, std::uint32_t& next) {
    std::uint32_t value = 0;
    std::memcpy(&value, m.payload, sizeof value);
    REQUIRE(m.from == 0);
    REQUIRE(value == next++);
  };
  while (next0 < kEach || next1 < kEach) {
    bool idle = true;
    if (auto m = node0.receive()) {  // the agent thread: node 0's one consumer
      expect_next(*m, next0);
      idle = false;
    }
    if (auto m = at1.receive()) {
      expect_next(*m, next1);
      idle = false;
    }
    if (idle) std::this_thread::yield();
  }
  server.join();
  CHECK_FALSE(node0.receive());
  CHECK_FALSE(at1.receive());
}
