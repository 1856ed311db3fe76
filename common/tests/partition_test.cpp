// The free extent list: first fit, splitting, coalescing, exhaustion,
// fragmentation, and rebuilding it from the section table.
#include <random>
#include <vector>

#include "gmm/lock.hpp"
#include "partition.hpp"
#include "pool_fixture.hpp"

using namespace gmm;
using namespace gmm::layout;
using gmm::test::TempPool;

namespace {
constexpr std::uint64_t P = kPageSize;

std::vector<FreeExtent> extents(const Pool& pool, std::uint32_t node) {
  auto t = pool.free_table(node);
  return {t.begin(), t.begin() + pool.partition(node).free_count};
}
}  // namespace

TEST_CASE("free list: carve splits the first extent that fits", "[freelist]") {
  TempPool t(16ull << 20, Geometry{.node_count = 1});
  const std::uint64_t total = t.pool->superblock().data_size;
  auto a = part::carve(*t.pool, 0, 3 * P);
  auto b = part::carve(*t.pool, 0, 5 * P);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a == 0);
  CHECK(*b == 3 * P);
  auto ext = extents(*t.pool, 0);
  REQUIRE(ext.size() == 1);
  CHECK(ext[0].offset == 8 * P);
  CHECK(ext[0].length == total - 8 * P);
}

TEST_CASE("free list: give_back coalesces with both neighbours", "[freelist]") {
  TempPool t(16ull << 20, Geometry{.node_count = 1});
  const std::uint64_t total = t.pool->superblock().data_size;
  auto a = *part::carve(*t.pool, 0, P);
  auto b = *part::carve(*t.pool, 0, P);
  auto c = *part::carve(*t.pool, 0, P);
  part::give_back(*t.pool, 0, a, P);
  CHECK(extents(*t.pool, 0).size() == 2);  // hole at a, tail after c
  part::give_back(*t.pool, 0, c, P);       // merges with the tail
  CHECK(extents(*t.pool, 0).size() == 2);
  part::give_back(*t.pool, 0, b, P);       // joins both: one extent again
  auto ext = extents(*t.pool, 0);
  REQUIRE(ext.size() == 1);
  CHECK(ext[0].offset == 0);
  CHECK(ext[0].length == total);
}

TEST_CASE("free list: exhaustion and fragmentation", "[freelist]") {
  TempPool t(16ull << 20, Geometry{.node_count = 1});
  const std::uint64_t total = t.pool->superblock().data_size;
  std::vector<std::uint64_t> pages;
  while (auto off = part::carve(*t.pool, 0, P)) pages.push_back(*off);
  CHECK(pages.size() == total / P);
  CHECK(extents(*t.pool, 0).empty());
  CHECK_FALSE(part::carve(*t.pool, 0, P));
  // Free every other page: many one-page holes, no two-page hole.
  for (std::size_t i = 0; i < pages.size(); i += 2) part::give_back(*t.pool, 0, pages[i], P);
  CHECK(extents(*t.pool, 0).size() == (pages.size() + 1) / 2);
  CHECK_FALSE(part::carve(*t.pool, 0, 2 * P));
  CHECK(part::carve(*t.pool, 0, P));
}

TEST_CASE("free list: random carve/give_back keeps it sorted and coalesced", "[freelist]") {
  TempPool t(16ull << 20, Geometry{.node_count = 1});
  const std::uint64_t total = t.pool->superblock().data_size;
  std::mt19937 rng(7);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> held;
  for (int i = 0; i < 5000; ++i) {
    if (held.empty() || rng() % 3 != 0) {
      const std::uint64_t size = (1 + rng() % 8) * P;
      if (auto off = part::carve(*t.pool, 0, size)) held.emplace_back(*off, size);
    } else {
      const std::size_t k = rng() % held.size();
      part::give_back(*t.pool, 0, held[k].first, held[k].second);
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(k));
    }
    auto ext = extents(*t.pool, 0);
    for (std::size_t j = 1; j < ext.size(); ++j) REQUIRE(ext[j - 1].offset + ext[j - 1].length < ext[j].offset);
  }
  for (auto [off, size] : held) part::give_back(*t.pool, 0, off, size);
  auto ext = extents(*t.pool, 0);
  REQUIRE(ext.size() == 1);
  CHECK(ext[0].length == total);
}

TEST_CASE("free list: repair rebuilds it from the section table", "[freelist][recovery]") {
  TempPool t(16ull << 20, Geometry{.node_count = 2});
  auto node = t.node(0);
  auto a = node->allocate("a", 3 * P, Placement::local());
  auto b = node->allocate("b", 2 * P, Placement::local());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(node->close(a->gid).ok());
  const auto before = extents(*t.pool, 0);
  // Scribble over the derived data, as a node dying mid-update would.
  t.pool->partition(0).free_count = 0;
  t.pool->sections(0)[b->section_index].sharer_count = 9;
  part::repair(*t.pool, 0);
  const auto after = extents(*t.pool, 0);
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].offset == before[i].offset);
    CHECK(after[i].length == before[i].length);
  }
  CHECK(t.pool->sections(0)[b->section_index].sharer_count == 1);
  REQUIRE_POOL_CLEAN(*t.pool);
}
