// Process mode's backends on scratch files: the pool file and the windows
// gmmd hands to clients. (Pool::attach over truncated files is the core's
// layout_test.)
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "file/file_pool.hpp"
#include "file/file_window.hpp"
#include "gmm/layout.hpp"
#include "testing/temp_dir.hpp"

using gmm::Errc;
using gmm::layout::kPageSize;

TEST_CASE("create_pool_file: a sparse file of whole pages, mapped shared, never over an existing one", "[file_pool]") {
  gmm::test::TempDir dir;
  const std::string path = dir.path + "/pool";
  CHECK(gmm::create_pool_file(path, 0).error().code == Errc::kInvalidArgument);
  CHECK(gmm::create_pool_file(path, kPageSize + 1).error().code == Errc::kInvalidArgument);
  auto created = gmm::create_pool_file(path, 4 * kPageSize);
  REQUIRE(created);
  CHECK((*created)->size() == 4 * kPageSize);
  CHECK((*created)->describe() == "pool file " + path);
  (*created)->base()[kPageSize] = std::byte{42};
  auto again = gmm::map_pool_file(path);
  REQUIRE(again);
  CHECK((*again)->base()[kPageSize] == std::byte{42});
  CHECK(gmm::create_pool_file(path, 4 * kPageSize).error().code == Errc::kIo);
}

TEST_CASE("FileWindowSource: page-aligned windows inside the pool, read-only ones not writable", "[file_window]") {
  gmm::test::TempDir dir;
  const std::string path = dir.path + "/pool";
  auto pool = gmm::create_pool_file(path, 4 * kPageSize);
  REQUIRE(pool);
  gmm::FileWindowSource windows(path, 4 * kPageSize);

  for (auto [offset, length] : {std::pair{kPageSize + 1, kPageSize}, std::pair{kPageSize, std::uint64_t{0}},
                                std::pair{3 * kPageSize, 2 * kPageSize}, std::pair{5 * kPageSize, kPageSize}}) {
    auto refused = windows.open_window(offset, length, false);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == Errc::kInvalidArgument);
  }

  auto writable = windows.open_window(2 * kPageSize, kPageSize, true);
  REQUIRE(writable);
  CHECK(writable->writable);
  void* at = ::mmap(nullptr, writable->length, PROT_READ | PROT_WRITE, MAP_SHARED, writable->fd.get(),
                    static_cast<off_t>(writable->mmap_offset));
  REQUIRE(at != MAP_FAILED);
  std::memcpy(at, "seen", 4);
  ::munmap(at, writable->length);
  CHECK(std::memcmp((*pool)->base() + 2 * kPageSize, "seen", 4) == 0);

  auto read_only = windows.open_window(2 * kPageSize, kPageSize, false);
  REQUIRE(read_only);
  CHECK_FALSE(read_only->writable);
  CHECK(::mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, read_only->fd.get(),
               static_cast<off_t>(read_only->mmap_offset)) == MAP_FAILED);
}

TEST_CASE("FileWindowSource: windows come without a revoker, and revoke says process mode cannot", "[file_window]") {
  gmm::test::TempDir dir;
  const std::string path = dir.path + "/pool";
  REQUIRE(gmm::create_pool_file(path, 4 * kPageSize));
  gmm::FileWindowSource windows(path, 4 * kPageSize);
  auto window = windows.open_window(kPageSize, kPageSize, true);
  REQUIRE(window);
  CHECK_FALSE(window->revoker.valid());
  auto refused = windows.revoke(window->fd);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::kInvalidArgument);
  CHECK(refused.error().message.find("process mode cannot revoke") != std::string::npos);
}
