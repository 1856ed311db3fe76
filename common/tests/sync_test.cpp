// Global mutexes and events (gmm/sync.hpp) and the access rules
// (gmm/security.hpp), on one pool in one process: two nodes, several
// clients each.
#include <cstring>

#include "gmm/atomic.hpp"
#include "gmm/security.hpp"
#include "gmm/sync.hpp"
#include "pool_fixture.hpp"

using namespace gmm;
using gmm::layout::SyncKind;
using gmm::test::TempPool;

namespace {

constexpr layout::Security kOpen{0, 0, 0666, 0};

// Nodes 0 and 1 on one pool, and a mutex "m" node 0 created.
struct TwoNodesAndAMutex {
  TempPool t;
  std::unique_ptr<Node> n0 = t.node(0);
  std::unique_ptr<Node> n1 = t.node(1);
  const Pool& pool = *t.pool;
  std::uint32_t m = sync::create(pool, n0->lock_owner(), SyncKind::kMutex, "m", kOpen).value();
};

}  // namespace

TEST_CASE("sync: names are unique across mutexes and events, and found by kind", "[sync]") {
  TempPool t;
  auto n0 = t.node(0);
  const Pool& pool = *t.pool;
  auto mutex = sync::create(pool, n0->lock_owner(), SyncKind::kMutex, "m", kOpen);
  REQUIRE(mutex.ok());
  CHECK(sync::create(pool, n0->lock_owner(), SyncKind::kEvent, "m", kOpen).error().code == Errc::kExists);
  CHECK(sync::create(pool, n0->lock_owner(), SyncKind::kEvent, "", kOpen).error().code == Errc::kInvalidArgument);
  CHECK(sync::create(pool, n0->lock_owner(), SyncKind::kEvent, std::string(64, 'x'), kOpen).error().code ==
        Errc::kNameTooLong);
  CHECK(sync::find(pool, "m", SyncKind::kMutex).value() == *mutex);
  CHECK(sync::find(pool, "m", SyncKind::kEvent).error().code == Errc::kNotFound);
  REQUIRE_POOL_CLEAN(pool);
  REQUIRE(sync::destroy(pool, n0->lock_owner(), *mutex).ok());
  CHECK(sync::find(pool, "m", SyncKind::kMutex).error().code == Errc::kNotFound);
}

TEST_CASE("sync: a mutex is recursive for its holder and exclusive for everyone else", "[sync]") {
  TwoNodesAndAMutex f;
  auto& [t, n0, n1, pool, m] = f;
  CHECK(sync::mutex_try_lock(pool, n0->lock_owner(), 1, m).value() == sync::Locked::kAcquired);
  CHECK(sync::mutex_try_lock(pool, n0->lock_owner(), 1, m).value() == sync::Locked::kAcquired);
  CHECK(sync::mutex_try_lock(pool, n0->lock_owner(), 2, m).error().code == Errc::kBusy);  // same node, other client
  CHECK(sync::mutex_try_lock(pool, n1->lock_owner(), 1, m).error().code == Errc::kBusy);  // other node
  CHECK(sync::destroy(pool, n0->lock_owner(), m).error().code == Errc::kBusy);
  CHECK(sync::mutex_unlock(pool, n1->lock_owner(), 1, m).error().code == Errc::kPermission);
  REQUIRE(sync::mutex_unlock(pool, n0->lock_owner(), 1, m).ok());
  CHECK(sync::mutex_try_lock(pool, n1->lock_owner(), 1, m).error().code == Errc::kBusy);
  REQUIRE(sync::mutex_unlock(pool, n0->lock_owner(), 1, m).ok());
  CHECK(sync::mutex_try_lock(pool, n1->lock_owner(), 1, m).value() == sync::Locked::kAcquired);
  REQUIRE(sync::mutex_unlock(pool, n1->lock_owner(), 1, m).ok());
  REQUIRE_POOL_CLEAN(pool);
}

TEST_CASE("sync: a mutex is abandoned by a dead client and by a dead node, and reported once", "[sync]") {
  TwoNodesAndAMutex f;
  auto& [t, n0, n1, pool, m] = f;

  REQUIRE(sync::mutex_try_lock(pool, n0->lock_owner(), 5, m).ok());
  sync::mutex_abandon(pool, n0->lock_owner(), 6, m);  // not the holder: nothing happens
  CHECK(sync::mutex_held_by(pool, n0->lock_owner(), 5, m));
  sync::mutex_abandon(pool, n0->lock_owner(), 5, m);  // client 5 died
  CHECK(sync::mutex_try_lock(pool, n1->lock_owner(), 1, m).value() == sync::Locked::kAbandoned);
  REQUIRE(sync::mutex_unlock(pool, n1->lock_owner(), 1, m).ok());
  CHECK(sync::mutex_try_lock(pool, n0->lock_owner(), 1, m).value() == sync::Locked::kAcquired);
  REQUIRE(sync::mutex_unlock(pool, n0->lock_owner(), 1, m).ok());

  // Node 1 dies holding it (its slot no longer names a live member).
  REQUIRE(sync::mutex_try_lock(pool, n1->lock_owner(), 1, m).ok());
  store_release(pool.node_slot(1).state, static_cast<std::uint32_t>(layout::NodeState::kFailed));
  CHECK(sync::mutex_try_lock(pool, n0->lock_owner(), 1, m).value() == sync::Locked::kAbandoned);
  CHECK(sync::mutex_held_by(pool, n0->lock_owner(), 1, m));
  REQUIRE(sync::mutex_unlock(pool, n0->lock_owner(), 1, m).ok());
  CHECK(sync::mutex_try_lock(pool, n0->lock_owner(), 1, m).value() == sync::Locked::kAcquired);
}

TEST_CASE("sync: an auto-reset event wakes one waiter per set, a manual-reset event all until reset", "[sync]") {
  TempPool t;
  auto n0 = t.node(0);
  const Pool& pool = *t.pool;
  auto autoe = sync::create(pool, n0->lock_owner(), SyncKind::kEvent, "a", kOpen, false, true).value();
  auto manual = sync::create(pool, n0->lock_owner(), SyncKind::kEvent, "b", kOpen, true, false).value();
  CHECK(sync::event_try_wait(pool, autoe));  // created signaled
  CHECK_FALSE(sync::event_try_wait(pool, autoe));
  sync::event_set(pool, autoe);
  sync::event_set(pool, autoe);  // not counted: one waiter per signaled state
  CHECK(sync::event_try_wait(pool, autoe));
  CHECK_FALSE(sync::event_try_wait(pool, autoe));
  CHECK_FALSE(sync::event_try_wait(pool, manual));
  sync::event_set(pool, manual);
  CHECK(sync::event_try_wait(pool, manual));
  CHECK(sync::event_try_wait(pool, manual));
  sync::event_reset(pool, manual);
  CHECK_FALSE(sync::event_try_wait(pool, manual));
}

TEST_CASE("sync: the checker finds a duplicate name and a bad kind", "[sync]") {
  TempPool t;
  auto n0 = t.node(0);
  const Pool& pool = *t.pool;
  auto first = sync::create(pool, n0->lock_owner(), SyncKind::kMutex, "dup", kOpen).value();
  auto second = sync::create(pool, n0->lock_owner(), SyncKind::kMutex, "other", kOpen).value();
  auto& entry = pool.sync_objects()[second];
  std::memcpy(entry.name, "dup", 4);
  entry.name_hash = pool.sync_objects()[first].name_hash;
  entry.kind = 9;
  auto report = check_pool(pool);
  INFO(gmm::test::violations_text(report));
  CHECK_FALSE(report.clean());
  CHECK_THAT(gmm::test::violations_text(report), Catch::Contains("both named 'dup'"));
  CHECK_THAT(gmm::test::violations_text(report), Catch::Contains("has kind 9"));
}

TEST_CASE("security: owner, group and other bits, root, and the denial message", "[sync][security]") {
  const layout::Security s{1000, 100, 0640, 0};
  CHECK(permits(s, {1000, 5}, Right::kWrite));
  CHECK(permits(s, {2000, 100}, Right::kRead));
  CHECK_FALSE(permits(s, {2000, 100}, Right::kWrite));
  CHECK_FALSE(permits(s, {2000, 200}, Right::kRead));
  CHECK(permits(s, {0, 0}, Right::kWrite));
  CHECK(owns(s, {1000, 1}));
  CHECK_FALSE(owns(s, {1001, 100}));
  auto denied = check_access(s, {2000, 200}, Right::kRead, "section \"x\"");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == Errc::kPermission);
  CHECK(denied.error().message ==
        "permission denied: uid 2000 gid 200 may not read section \"x\" (owner 1000:100, mode 0640); ask its owner "
        "or run as a user it allows");
  CHECK(check_owner(s, {2000, 100}, "x").error().code == Errc::kPermission);
}
