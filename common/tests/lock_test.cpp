// Recoverable global locks (paper 3.5) with POSIX robust-mutex semantics,
// for a lock living in a global section.
#include "cluster_harness.hpp"
#include "gmm/lock.hpp"

using namespace gmm;
using namespace gmm::layout;
using namespace gmm::test;
using namespace std::chrono_literals;

namespace {

struct LockFixture {
  TempPool t{64ull << 20, Geometry{.node_count = 4}, "lock"};
  std::unique_ptr<Node> n0 = t.node(0);
  GlobalLock* lock = nullptr;
  LockFixture() {
    auto s = n0->allocate("mutex", 4096, Placement::local());
    REQUIRE(s.ok());
    lock = reinterpret_cast<GlobalLock*>(t.pool->at(s->pool_offset));
  }
  // Node 1 in another process takes the lock, then dies or waits holding it.
  NodeProcess holder(bool die_holding) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto mapping = map_pool_file(t.path);
      auto pool = Pool::attach(*mapping.value());
      Node n1(pool.value(), 1);
      if (!n1.join()) ::_exit(2);
      auto s = n1.open("mutex");
      auto* l = reinterpret_cast<GlobalLock*>(pool->at(s->pool_offset));
      if (!lock_acquire(pool.value(), *l, n1.lock_owner())) ::_exit(3);
      if (die_holding) ::kill(::getpid(), SIGKILL);
      ::pause();
    }
    return NodeProcess(pid);
  }
  void declare_failed(std::uint32_t node) {  // what membership does on a missed heartbeat
    publish_state(t.pool->node_slot(node).state, NodeState::kFailed);
  }
  // Node `dead`'s holder is declared failed, then node 0 takes the lock over.
  void take_over_from(std::uint32_t dead) {
    declare_failed(dead);
    auto r = lock_acquire(*t.pool, *lock, n0->lock_owner());
    REQUIRE(r.ok());
    CHECK(*r == LockAcquired::kOwnerDied);
  }
};

}  // namespace

TEST_CASE("locks: a lock held by a live owner is never taken from it", "[locks]") {
  LockFixture f;
  auto p = f.holder(false);
  REQUIRE(wait_until([&] { return load_acquire(f.lock->owner) != 0; }));
  for (int i = 0; i < 100; ++i) {
    auto r = lock_try_acquire(*f.t.pool, *f.lock, f.n0->lock_owner());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::kBusy);
    std::this_thread::sleep_for(1ms);
  }
  p.kill();
  p.wait();
}

TEST_CASE("locks: owner died -> repaired -> consistent again", "[locks]") {
  LockFixture f;
  auto p = f.holder(true);
  p.wait();
  // The dead process's node is still a member until membership says otherwise.
  CHECK(lock_try_acquire(*f.t.pool, *f.lock, f.n0->lock_owner()).error().code == Errc::kBusy);
  f.take_over_from(1);
  lock_make_consistent(*f.lock);
  lock_release(*f.lock, f.n0->lock_owner());
  auto again = lock_acquire(*f.t.pool, *f.lock, f.n0->lock_owner());
  REQUIRE(again.ok());
  CHECK(*again == LockAcquired::kClean);
  lock_release(*f.lock, f.n0->lock_owner());
}

TEST_CASE("locks: released without being made consistent -> not recoverable for good", "[locks]") {
  LockFixture f;
  auto p = f.holder(true);
  p.wait();
  f.take_over_from(1);
  lock_release(*f.lock, f.n0->lock_owner());  // no repair
  for (int i = 0; i < 2; ++i) {
    auto after = lock_acquire(*f.t.pool, *f.lock, f.n0->lock_owner());
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == Errc::kNotRecoverable);
  }
  CHECK(load_acquire(f.lock->owner) == 0);
}

TEST_CASE("locks: a repairer that dies too leaves the lock still owner-died", "[locks]") {
  LockFixture f;
  auto p = f.holder(true);
  p.wait();
  f.declare_failed(1);
  // Node 2 takes it over and dies before making it consistent.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto mapping = map_pool_file(f.t.path);
    auto pool = Pool::attach(*mapping.value());
    Node n2(pool.value(), 2);
    if (!n2.join()) ::_exit(2);
    const auto offset = static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(f.lock) - f.t.pool->base());
    auto* l = reinterpret_cast<GlobalLock*>(pool->at(offset));
    auto got = lock_acquire(pool.value(), *l, n2.lock_owner());
    ::_exit(got.ok() && *got == LockAcquired::kOwnerDied ? 0 : 1);  // exits holding it
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WEXITSTATUS(status) == 0);
  f.take_over_from(2);
  lock_make_consistent(*f.lock);
  lock_release(*f.lock, f.n0->lock_owner());
}

TEST_CASE("locks: an expelled node cannot take a lock", "[locks][fencing]") {
  LockFixture f;
  f.declare_failed(0);
  auto r = lock_acquire(*f.t.pool, *f.lock, f.n0->lock_owner());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::kExpelled);
  CHECK(f.n0->allocate("after-expulsion", 4096, Placement::local()).error().code == Errc::kExpelled);
}
