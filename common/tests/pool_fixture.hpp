// A formatted pool file under /dev/shm for one test, removed afterwards.
#pragma once

#include <unistd.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "file/file_pool.hpp"
#include "gmm/check.hpp"
#include "gmm/gmm.hpp"
#include "gmm/pool.hpp"

namespace gmm::test {

// pid and counter tell the tests of one run apart; the random part keeps a
// file left behind by a killed run (pool files are created O_EXCL) from
// failing a later process that gets the same pid.
inline std::string unique_pool_path(const char* tag) {
  static std::atomic<int> counter{0};
  static const unsigned run = std::random_device{}();
  return "/dev/shm/gmm-test-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" + std::to_string(run) +
         "-" + std::to_string(counter++);
}

struct TempPool {
  explicit TempPool(std::uint64_t size = 64ull << 20, Geometry geometry = {}, const char* tag = "pool")
      : path(unique_pool_path(tag)) {
    auto created = create_pool_file(path, size);
    REQUIRE(created.ok());
    mapping = std::move(created.value());
    REQUIRE(format_pool(*mapping, geometry).ok());
    auto attached = Pool::attach(*mapping);
    REQUIRE(attached.ok());
    pool = std::make_unique<Pool>(attached.value());
  }
  ~TempPool() { ::unlink(path.c_str()); }

  // A joined node on this pool.
  std::unique_ptr<Node> node(std::uint32_t id) const {
    auto n = std::make_unique<Node>(*pool, id);
    REQUIRE(n->join().ok());
    return n;
  }

  std::string path;
  std::unique_ptr<PoolMapping> mapping;
  std::unique_ptr<Pool> pool;
};

inline std::string violations_text(const CheckReport& r) {
  std::string out;
  for (const auto& v : r.violations) out += v + "\n";
  return out;
}

#define REQUIRE_POOL_CLEAN(pool)                       \
  do {                                                 \
    auto report_ = ::gmm::check_pool(pool);            \
    INFO(::gmm::test::violations_text(report_));       \
    REQUIRE(report_.clean());                          \
  } while (0)

}  // namespace gmm::test
