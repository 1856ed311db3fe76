// The cross-VM atomicity check with fake guests sharing one word: atomic
// adds pass, torn read-modify-write adds are caught with the message the
// orchestrator prints.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <thread>

#include "atomic_check.hpp"

using namespace gmm::host::vm;

namespace {

// `uio-poke OP OFF N` as a fake guest reads it.
struct Poke {
  std::string op;
  std::uint64_t n = 0;
};
Poke parse_poke(const std::string& command) {
  std::istringstream words(command);
  std::string tool;
  std::uint64_t off = 0;
  Poke poke;
  words >> tool >> poke.op >> off >> poke.n;
  return poke;
}

// The reply of uio-poke read: the word in hex.
std::string hex_word(std::uint64_t value) {
  char text[32];
  std::snprintf(text, sizeof(text), "0x%016llx", static_cast<unsigned long long>(value));
  return text;
}

// Plays `uio-poke write|add|read OFF ...` on a shared word; `atomic` false
// makes add a load + store (what TCG emits with one vCPU).
struct FakeGuests {
  explicit FakeGuests(bool atomic) : atomic(atomic) {}
  gmm::Result<std::string> operator()(std::uint32_t node, const std::string& command) {
    {
      std::lock_guard lock(mutex);
      commands.push_back(std::to_string(node) + ": " + command);
    }
    const auto [op, n] = parse_poke(command);
    std::atomic_ref<std::uint64_t> w(word);
    if (op == "write") w.store(n);
    if (op == "add") {
      for (std::uint64_t i = 0; i < n; ++i) {
        if (atomic) {
          w.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        std::uint64_t seen = w.load(std::memory_order_relaxed);
        if (i % 64 == 0) std::this_thread::yield();  // the window, even on one core
        w.store(seen + 1, std::memory_order_relaxed);
      }
    }
    if (op == "fail") return gmm::make_error(gmm::Errc::kIo, "uio-poke: no UIO device named gmm_ivshmem");
    return op == "write" ? std::string() : hex_word(w.load());
  }
  bool atomic;
  alignas(8) std::uint64_t word = 12345;  // garbage before the check
  std::mutex mutex;
  std::vector<std::string> commands;
};

}  // namespace

TEST_CASE("atomic check: atomic adds add up, the word is left 0", "[atomic_check]") {
  FakeGuests guests(true);
  AtomicCheckOptions options{{0, 1, 2, 3}, 64, 200000, "uio-poke"};
  auto report = check_cross_vm_atomics(options, std::ref(guests));
  REQUIRE(report);
  CHECK(report->expected == 800000);
  CHECK(report->total == 800000);
  CHECK(guests.word == 0);
  CHECK(guests.commands.front() == "0: uio-poke write 64 0");
  CHECK(std::count(guests.commands.begin(), guests.commands.end(), "2: uio-poke add 64 200000") == 1);
  CHECK(guests.commands[guests.commands.size() - 2] == "0: uio-poke read 64");
}

TEST_CASE("atomic check: torn adds are reported with the fix", "[atomic_check]") {
  FakeGuests guests(false);
  AtomicCheckOptions options{{0, 1, 2, 3}, 0, 2000000, "uio-poke"};
  auto report = check_cross_vm_atomics(options, std::ref(guests));
  REQUIRE_FALSE(report);
  const std::string& m = report.error().message;
  INFO(m);
  CHECK(m.rfind("cross-VM atomics are broken: expected 8000000, got ", 0) == 0);
  CHECK(m.find("; under TCG each guest needs 2 vCPUs") != std::string::npos);
}

TEST_CASE("atomic check: a failing guest command is named", "[atomic_check]") {
  FakeGuests guests(true);
  AtomicCheckOptions options{{0, 1}, 0, 10, "uio-poke"};
  options.tool = "uio-poke";
  auto runner = [&](std::uint32_t node, const std::string& command) -> gmm::Result<std::string> {
    if (node == 1 && command.find(" add ") != std::string::npos) return guests(node, "uio-poke fail");
    return guests(node, command);
  };
  auto report = check_cross_vm_atomics(options, runner);
  REQUIRE_FALSE(report);
  CHECK(report.error().message ==
        "atomic check: node 1: `uio-poke add 0 10` failed: uio-poke: no UIO device named gmm_ivshmem");
  CHECK_FALSE(check_cross_vm_atomics({{0}, 4, 10, "uio-poke"}, runner));  // unaligned
}

TEST_CASE("parse_poke_value", "[atomic_check]") {
  CHECK(parse_poke_value("0x0000000004c4b400\n") == 80000000);
  CHECK(parse_poke_value("noise\r\n0x0000000000000010\r") == 16);
  CHECK_FALSE(parse_poke_value("uio-poke: no UIO device"));
  CHECK_FALSE(parse_poke_value("0xzz"));
}

TEST_CASE("atomic check: tells whether the adds overlapped", "[atomic_check]") {
  std::uint64_t word = 0;
  std::mutex one_at_a_time;
  std::barrier halfway(2);
  bool overlap = false;
  // Sequential guests (each add under a lock) or guests that meet halfway.
  auto runner = [&](std::uint32_t, const std::string& command) -> gmm::Result<std::string> {
    const auto [op, n] = parse_poke(command);
    std::atomic_ref<std::uint64_t> w(word);
    if (op == "write") w.store(n);
    if (op == "add" && overlap) {
      w.fetch_add(n / 2);
      halfway.arrive_and_wait();
      w.fetch_add(n - n / 2);
    } else if (op == "add") {
      std::lock_guard lock(one_at_a_time);
      w.fetch_add(n);
    }
    return hex_word(w.load());
  };
  auto alone = check_cross_vm_atomics({{0, 1}, 0, 1000, "uio-poke"}, runner);
  REQUIRE(alone);
  CHECK(alone->total == 2000);
  CHECK_FALSE(alone->overlapped);
  overlap = true;
  auto together = check_cross_vm_atomics({{0, 1}, 0, 1000, "uio-poke"}, runner);
  REQUIRE(together);
  CHECK(together->overlapped);
}
