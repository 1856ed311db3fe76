// Freezes the shared-memory ABI and checks attach-time validation.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "gmm/layout.hpp"
#include "pool_fixture.hpp"

using namespace gmm;
using namespace gmm::layout;
using gmm::test::TempPool;

TEST_CASE("layout: the version names the frozen layout", "[layout]") {
  // Sizes and offsets are frozen by static_asserts in layout.hpp (a change
  // does not build); this pairs them with the version: change both there,
  // then this number and docs/layout.md.
  CHECK(kLayoutVersion == 5);
  CHECK(kLayoutDescriptor.node_slot == 64);
  CHECK(kLayoutDescriptor.sync_object == 160);
}

TEST_CASE("layout: format then attach gives the documented geometry", "[layout]") {
  TempPool t(64ull << 20);
  const Superblock& sb = t.pool->superblock();
  CHECK(sb.magic == kMagic);
  CHECK(sb.node_count == 4);
  CHECK(sb.pool_size == (64ull << 20));
  CHECK(sb.partitions_offset % kPageSize == 0);
  CHECK(sb.partition_size % kPageSize == 0);
  CHECK(sb.partitions_offset + 4 * sb.partition_size <= sb.pool_size);
  CHECK(sb.data_offset + sb.data_size == sb.partition_size);
  CHECK(t.pool->cluster().dir_primary == 0);
  CHECK(t.pool->cluster().dir_replica == 1);
  for (std::uint32_t n = 0; n < 4; ++n) {
    CHECK(t.pool->partition(n).free_count == 1);
    CHECK(t.pool->free_table(n)[0].length == sb.data_size);
  }
  REQUIRE_POOL_CLEAN(*t.pool);
}

TEST_CASE("layout: attach rejects foreign, stale and damaged pools with a clear error", "[layout]") {
  TempPool t(16ull << 20);
  Superblock& sb = t.pool->superblock();
  auto expect_bad = [&](const char* needle) {
    auto r = Pool::attach(*t.mapping);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::kBadPool);
    INFO(r.error().message);
    CHECK(r.error().message.find(needle) != std::string::npos);
  };
  SECTION("wrong magic") {
    sb.magic = 0x1234;
    expect_bad("not a GMM pool");
  }
  SECTION("never formatted") {
    sb.magic = 0;
    expect_bad("not formatted");
  }
  SECTION("other layout version") {
    sb.layout_version = kLayoutVersion + 1;
    expect_bad("layout version");
  }
  SECTION("other table sizes") {
    sb.descriptor.dir_entry = 64;
    expect_bad("layout descriptor");
  }
  SECTION("size in superblock differs from the mapping") {
    sb.pool_size *= 2;
    expect_bad("superblock says");
  }
  SECTION("inconsistent geometry") {
    sb.partition_size += 4096;
    expect_bad("geometry");
  }
}

TEST_CASE("layout: truncated or missing pool files fail cleanly", "[layout]") {
  TempPool t(16ull << 20);
  REQUIRE(::truncate(t.path.c_str(), 8ull << 20) == 0);
  auto remapped = map_pool_file(t.path);
  REQUIRE(remapped.ok());
  auto r = Pool::attach(*remapped.value());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::kBadPool);
  REQUIRE(::truncate(t.path.c_str(), 100) == 0);
  auto tiny = map_pool_file(t.path);
  REQUIRE_FALSE(tiny.ok());
  CHECK(tiny.error().code == Errc::kBadPool);
  auto missing = map_pool_file("/dev/shm/gmm-test-does-not-exist");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::kIo);
}

TEST_CASE("layout: format refuses bad geometry", "[layout]") {
  auto path = gmm::test::unique_pool_path("geom");
  auto m = create_pool_file(path, 1ull << 20);
  REQUIRE(m.ok());
  CHECK(format_pool(*m.value(), Geometry{.node_count = 0}).error().code == Errc::kInvalidArgument);
  CHECK(format_pool(*m.value(), Geometry{.node_count = kMaxNodes + 1}).error().code == Errc::kInvalidArgument);
  CHECK(format_pool(*m.value(), Geometry{.node_count = 4}).error().code == Errc::kInvalidArgument);  // too small
  CHECK_FALSE(create_pool_file(path, 1ull << 20).ok());  // exists already
  ::unlink(path.c_str());
}

TEST_CASE("layout: pools larger than 4 GiB work (sparse 8 GiB file)", "[layout][large]") {
  TempPool t(8ull << 30, Geometry{.node_count = 4}, "large");
  const Superblock& sb = t.pool->superblock();
  CHECK(sb.pool_size == (8ull << 30));
  CHECK(sb.partition_size > (2ull << 30) - (1ull << 20));  // ~2 GiB each
  auto n3 = t.node(3);
  // A section at the far end of the last partition: offsets above 4 GiB.
  auto big = n3->allocate("big", sb.data_size - (1ull << 20), Placement::local());
  REQUIRE(big.ok());
  auto tail = n3->allocate("tail", 1ull << 20, Placement::local());
  REQUIRE(tail.ok());
  CHECK(tail->pool_offset > (6ull << 30));
  auto bytes = n3->bytes(tail->gid);
  REQUIRE(bytes.ok());
  std::memcpy(bytes->data() + bytes->size() - 8, "GMM-TAIL", 8);
  auto n0 = t.node(0);
  REQUIRE(n0->open("tail").ok());
  auto seen = n0->bytes(tail->gid);
  REQUIRE(seen.ok());
  CHECK(std::memcmp(seen->data() + seen->size() - 8, "GMM-TAIL", 8) == 0);
  REQUIRE_POOL_CLEAN(*t.pool);
  struct stat st {};
  REQUIRE(::stat(t.path.c_str(), &st) == 0);
  CHECK(static_cast<std::uint64_t>(st.st_blocks) * 512 < (256ull << 20));  // still sparse
}
