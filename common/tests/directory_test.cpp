// Global Name Service over the directory: create, look up, unlink, GIDs.
#include <set>
#include <string>

#include "directory.hpp"
#include "pool_fixture.hpp"

using namespace gmm;
using namespace gmm::layout;
using gmm::test::TempPool;

TEST_CASE("gns: create, look up, unlink", "[gns]") {
  TempPool t;
  auto n0 = t.node(0);
  auto n2 = t.node(2);
  auto s = n0->allocate("alpha", 4096, Placement::local());
  REQUIRE(s.ok());
  auto found = n2->lookup_name("alpha");
  REQUIRE(found.ok());
  CHECK(*found == s->gid);
  CHECK(n2->lookup_name("beta").error().code == Errc::kNotFound);
  REQUIRE(n0->free("alpha").ok());
  CHECK(n2->lookup_name("alpha").error().code == Errc::kNotFound);
  CHECK(n0->free("alpha").error().code == Errc::kNotFound);  // double free
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("gns: names are unique, 63 bytes at most", "[gns]") {
  TempPool t;
  auto n = t.node(1);
  REQUIRE(n->allocate(std::string(63, 'x'), 4096, Placement::local()).ok());
  CHECK(n->allocate(std::string(64, 'y'), 4096, Placement::local()).error().code == Errc::kNameTooLong);
  CHECK(n->allocate(std::string(63, 'x'), 4096, Placement::local()).error().code == Errc::kExists);
  CHECK(n->allocate(std::string("a\0b", 3), 4096, Placement::local()).error().code == Errc::kInvalidArgument);
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("gns: a GID is never handed out twice (generation counter)", "[gns]") {
  TempPool t(64ull << 20, Geometry{.node_count = 2, .dir_entries = 16});
  auto n = t.node(0);
  std::set<std::uint64_t> seen;
  for (int round = 0; round < 200; ++round) {
    auto s = n->allocate("reused", 4096, Placement::local());
    REQUIRE(s.ok());
    CHECK(seen.insert(s->gid.value).second);
    const Gid old = s->gid;
    REQUIRE(n->free("reused").ok());
    CHECK(n->describe(old).error().code == Errc::kNotFound);  // stale GID stays dead
    CHECK(n->open(old).error().code == Errc::kNotFound);
  }
}

TEST_CASE("gns: colliding names in a tiny directory, with unlinks in the middle of chains", "[gns]") {
  TempPool t(64ull << 20, Geometry{.node_count = 2, .dir_entries = 16});
  auto n = t.node(0);
  std::vector<std::string> names;
  for (int i = 0; i < 16; ++i) names.push_back("n" + std::to_string(i));
  for (auto& name : names) REQUIRE(n->allocate(name, 4096, Placement::local()).ok());
  CHECK(n->allocate("one-too-many", 4096, Placement::local()).error().code == Errc::kTableFull);
  for (int i = 0; i < 16; i += 3) REQUIRE(n->free(names[i]).ok());
  for (int i = 0; i < 16; ++i) CHECK(n->lookup_name(names[i]).ok() == (i % 3 != 0));
  REQUIRE_POOL_CLEAN(*t.pool);
  for (int i = 0; i < 16; i += 3) REQUIRE(n->allocate(names[i] + "b", 4096, Placement::local()).ok());
  for (int i = 0; i < 16; ++i) CHECK(n->lookup_name(names[i]).ok() == (i % 3 != 0));
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("gns: directory repair restores probe references and the replica", "[gns][recovery]") {
  TempPool t(64ull << 20, Geometry{.node_count = 3, .dir_entries = 32});
  auto n = t.node(0);
  for (int i = 0; i < 20; ++i) REQUIRE(n->allocate("k" + std::to_string(i), 4096, Placement::local()).ok());
  auto primary = t.pool->dir_entries(0);
  for (auto& e : primary) e.probe_refs = 0;
  t.pool->dir_entries(1)[3].generation += 7;  // replica diverged
  auto report = check_pool(*t.pool);
  CHECK_FALSE(report.clean());
  dir::repair(*t.pool);
  REQUIRE_POOL_CLEAN(*t.pool);
  for (int i = 0; i < 20; ++i) CHECK(n->lookup_name("k" + std::to_string(i)).ok());
}
