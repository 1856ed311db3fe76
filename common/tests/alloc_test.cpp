// Allocation and sharing across nodes, and every abort path of the
// two-phase allocation: a failure releases every reservation.
#include <cstring>

#include "pool_fixture.hpp"

using namespace gmm;
using namespace gmm::layout;
using gmm::test::TempPool;

namespace {
std::uint64_t free_bytes(Node& n, std::uint32_t node) { return n.stat().at(node).free_bytes; }
}  // namespace

TEST_CASE("alloc: placement on the caller, on a chosen node, anywhere", "[alloc]") {
  TempPool t;
  auto n1 = t.node(1);
  auto local = n1->allocate("local", 10000, Placement::local());
  REQUIRE(local.ok());
  CHECK(local->home_node == 1);
  CHECK(local->size == 3 * kPageSize);  // rounded up to pages
  auto remote = n1->allocate("remote", 4096, Placement::on(3));
  REQUIRE(remote.ok());
  CHECK(remote->home_node == 3);
  CHECK(remote->sharer_nodes == (1u << 1));
  CHECK(n1->allocate("nowhere", 4096, Placement::on(4)).error().code == Errc::kInvalidArgument);
  // Fill node 1 so that "anywhere" must go elsewhere.
  const std::uint64_t rest = n1->stat()[1].largest_free;
  REQUIRE(n1->allocate("filler", rest, Placement::local()).ok());
  CHECK(n1->allocate("x", 4096, Placement::local()).error().code == Errc::kNoSpace);
  auto any = n1->allocate("any", 4096, Placement::anywhere());
  REQUIRE(any.ok());
  CHECK(any->home_node != 1);
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("alloc: share across nodes and the last close returns the memory", "[alloc]") {
  TempPool t;
  auto n0 = t.node(0);
  auto n2 = t.node(2);
  auto n3 = t.node(3);
  const std::uint64_t before = free_bytes(*n0, 2);
  auto s = n0->allocate("shared", 8192, Placement::on(2));
  REQUIRE(s.ok());
  auto bytes0 = n0->bytes(s->gid);
  REQUIRE(bytes0.ok());
  std::memcpy(bytes0->data(), "hello from node 0", 18);
  CHECK(n3->bytes(s->gid).error().code == Errc::kNotFound);  // must open first
  auto o3 = n3->open("shared");
  REQUIRE(o3.ok());
  CHECK(o3->gid == s->gid);
  CHECK(n3->describe(o3->gid)->sharer_nodes == ((1u << 0) | (1u << 3)));
  CHECK(n3->open("shared").error().code == Errc::kAlreadyOpen);
  REQUIRE(n2->open(s->gid).ok());
  CHECK(std::strcmp(reinterpret_cast<const char*>(n3->bytes(s->gid)->data()), "hello from node 0") == 0);
  CHECK(free_bytes(*n0, 2) == before - 8192);
  REQUIRE(n0->free("shared").ok());  // unlink + close; others still share
  CHECK(n3->lookup_name("shared").error().code == Errc::kNotFound);
  CHECK(n3->describe(s->gid).ok());
  REQUIRE(n2->close(s->gid).ok());
  CHECK(free_bytes(*n0, 2) == before - 8192);
  REQUIRE(n3->close(s->gid).ok());  // last sharer
  CHECK(free_bytes(*n0, 2) == before);
  CHECK(n3->describe(s->gid).error().code == Errc::kNotFound);
  CHECK(n3->close(s->gid).error().code == Errc::kNotFound);
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("alloc: bad requests get clear errors and change nothing", "[alloc]") {
  TempPool t;
  auto n = t.node(0);
  const auto before = n->stat();
  CHECK(n->allocate("zero", 0, Placement::local()).error().code == Errc::kInvalidArgument);
  const std::uint64_t huge = t.pool->superblock().data_size + 1;
  auto too_big = n->allocate("huge", huge, Placement::anywhere());
  CHECK(too_big.error().code == Errc::kNoSpace);
  CHECK(too_big.error().message.find("larger than a partition") != std::string::npos);
  CHECK(n->open("unknown").error().code == Errc::kNotFound);
  CHECK(n->close("unknown").error().code == Errc::kNotFound);
  CHECK(n->open(Gid{12345}).error().code == Errc::kNotFound);
  CHECK(n->free("unknown").error().code == Errc::kNotFound);
  Node stranger(*t.pool, 9);
  CHECK(stranger.join().error().code == Errc::kInvalidArgument);
  const auto after = n->stat();
  for (std::size_t i = 0; i < after.size(); ++i) CHECK(after[i].free_bytes == before[i].free_bytes);
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("alloc abort: no room after the directory entry was reserved releases it", "[alloc][abort]") {
  TempPool t;
  auto n = t.node(0);
  const std::uint64_t rest = n->stat()[0].largest_free;
  REQUIRE(n->allocate("fill", rest, Placement::local()).ok());
  auto r = n->allocate("nospace", 4096, Placement::local());
  CHECK(r.error().code == Errc::kNoSpace);
  CHECK(n->lookup_name("nospace").error().code == Errc::kNotFound);
  REQUIRE(n->free("fill").ok());
  REQUIRE(n->allocate("nospace", 4096, Placement::local()).ok());  // name reusable: nothing leaked
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("alloc abort: full section and sharer tables release every reservation", "[alloc][abort]") {
  TempPool t(64ull << 20, Geometry{.node_count = 2, .section_entries = 16, .sharer_entries = 16});
  auto n0 = t.node(0);
  for (int i = 0; i < 16; ++i) REQUIRE(n0->allocate("s" + std::to_string(i), 4096, Placement::local()).ok());
  auto full = n0->allocate("s16", 4096, Placement::local());
  CHECK(full.error().code == Errc::kTableFull);
  CHECK(n0->lookup_name("s16").error().code == Errc::kNotFound);
  // Every sharer slot of node 0 is taken now: another node's open must fail cleanly.
  auto n1 = t.node(1);
  auto open = n1->open("s3");
  CHECK(open.error().code == Errc::kTableFull);
  CHECK_FALSE(n1->holds(n0->lookup_name("s3").value(), 0));
  REQUIRE_POOL_CLEAN(*t.pool);
  REQUIRE(n0->free("s3").ok());
  REQUIRE(n1->open("s4").ok());
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("alloc abort: a full directory is reported before anything is reserved", "[alloc][abort]") {
  TempPool t(64ull << 20, Geometry{.node_count = 2, .dir_entries = 16});
  auto n = t.node(1);
  for (int i = 0; i < 16; ++i) REQUIRE(n->allocate("", 4096, Placement::local()).ok());  // anonymous
  CHECK(n->allocate("", 4096, Placement::local()).error().code == Errc::kTableFull);
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("alloc: a node restarted with the same id keeps its node-level shares", "[alloc]") {
  TempPool t;
  Gid gid;
  {
    auto n = t.node(2);
    auto s = n->allocate("kept", 4096, Placement::local());
    REQUIRE(s.ok());
    gid = s->gid;
  }
  auto again = t.node(2);
  CHECK(again->holds(gid, 0));
  REQUIRE(again->close(gid).ok());
  CHECK(again->describe(gid).error().code == Errc::kNotFound);
  REQUIRE_POOL_CLEAN(*t.pool);
}
