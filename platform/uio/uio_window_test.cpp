// UioWindowSource where no gmm_ivshmem runs: what it checks itself
// and how it reports a missing or wrong device. The kernel side (windows
// that confine an unprivileged process) is checked in a guest by
// window-probe.sh (gmm-window-probe).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "testing/temp_dir.hpp"
#include "uio/uio_window.hpp"

using gmm::Errc;
using gmm::open_uio_window_source;

TEST_CASE("UioWindowSource: a missing or non-device window device is a clear error", "[uio_window]") {
  gmm::test::TempDir dir;
  auto missing = open_uio_window_source(dir.path + "/gmm_window");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::kNotFound);
  CHECK(missing.error().message.find("gmm_ivshmem 0.2 or later") != std::string::npos);

  gmm::test::write_text(dir.path + "/plain", "");
  auto plain = open_uio_window_source(dir.path + "/plain");
  REQUIRE_FALSE(plain);
  CHECK(plain.error().code == Errc::kIo);
  CHECK(plain.error().message.find("not a character device") != std::string::npos);
}

TEST_CASE("UioWindowSource: empty or unaligned windows are refused before the device is asked", "[uio_window]") {
  // /dev/null is a character device that knows no GMM_WINDOW_SET.
  auto source = open_uio_window_source("/dev/null");
  REQUIRE(source);
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  for (auto [offset, length] : {std::pair{page + 1, page}, std::pair{page, page / 2}, std::pair{page, std::uint64_t{0}}}) {
    auto window = (*source)->open_window(offset, length, true);
    REQUIRE_FALSE(window);
    CHECK(window.error().code == Errc::kInvalidArgument);
    CHECK(window.error().message.find("page-aligned") != std::string::npos);
  }
  auto not_a_window = (*source)->open_window(page, page, false);
  REQUIRE_FALSE(not_a_window);
  CHECK(not_a_window.error().code == Errc::kIo);
  CHECK(not_a_window.error().message.find("not a gmm_window device") != std::string::npos);
}

TEST_CASE("UioWindowSource: revoking through a descriptor that is no window is a clear error", "[uio_window]") {
  auto source = open_uio_window_source("/dev/null");
  REQUIRE(source);
  gmm::UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  REQUIRE(null);
  auto refused = (*source)->revoke(null);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::kIo);
  CHECK(refused.error().message.find("before 0.4 cannot revoke") != std::string::npos);
}
