// gmm-uio-probe: exercises gmm::UioPool (the guest pool backend, platform/uio) in
// a real guest. Linked statically, so the guest runs it straight from the 9p
// share (/gmm/bin/gmm-uio-probe) without the host's shared libraries.
// Same commands and output format as the image's uio-poke, so either can be
// the atomic check's tool:
//
//   gmm-uio-probe info                 device, IVPosition (BAR0 and sysfs), vectors, pool size
//   gmm-uio-probe ivposition           IVPosition from BAR0
//   gmm-uio-probe ring PEER VECTOR     Doorbell
//   gmm-uio-probe wait MS              interrupt count, exit 3 on timeout
//   gmm-uio-probe read OFF | write OFF VAL | add OFF COUNT   pool words (0x%016x)
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "uio/uio_pool.hpp"

namespace {

int usage() {
  std::fprintf(stderr, "usage: gmm-uio-probe info|ivposition|ring PEER VECTOR|wait MS|read OFF|write OFF VAL|add OFF COUNT\n");
  return 2;
}

bool number(const char* text, std::uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(text, &end, 0);
  return end != text && *end == '\0';
}

int fail(const std::string& message) {
  std::fprintf(stderr, "gmm-uio-probe: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  std::uint64_t a = 0, b = 0;
  const bool one = argc == 3 && number(argv[2], a);
  const bool two = argc == 4 && number(argv[2], a) && number(argv[3], b);

  auto pool = gmm::UioPool::open_default();
  if (!pool) return fail(pool.error().message);
  gmm::UioPool& p = **pool;
  auto word = [&](std::uint64_t off) -> std::uint64_t* {
    if (off % 8 != 0 || off + 8 > p.size()) return nullptr;
    return reinterpret_cast<std::uint64_t*>(p.base() + off);
  };

  if (cmd == "info" && argc == 2) {
    const auto& d = p.device();
    std::printf("device %s\ndescribe %s\nivposition %d\nsysfs_ivposition %d\nvectors %u\npool_bytes %" PRIu64 "\n",
                d.dev_path.c_str(), p.describe().c_str(), p.ivposition(), d.ivposition.value_or(-1), d.vectors, p.size());
  } else if (cmd == "ivposition" && argc == 2) {
    std::printf("%d\n", p.ivposition());
  } else if (cmd == "ring" && two) {
    auto rung = p.ring(static_cast<std::uint16_t>(a), static_cast<std::uint16_t>(b));
    if (!rung) return fail(rung.error().message);
  } else if (cmd == "wait" && one) {
    auto event = p.wait_event(std::chrono::milliseconds(a));
    if (!event) return fail(event.error().message);
    if (!*event) {
      fail("no interrupt within " + std::to_string(a) + " ms");
      return 3;
    }
    std::printf("%u\n", **event);
  } else if ((cmd == "read" && one) || (cmd == "write" && two) || (cmd == "add" && two)) {
    std::uint64_t* at = word(a);
    if (at == nullptr) {
      fail("offset " + std::to_string(a) + " not 8-aligned inside the pool");
      return 2;
    }
    std::atomic_ref<std::uint64_t> w(*at);
    if (cmd == "write") w.store(b, std::memory_order_release);
    const std::uint64_t adds = cmd == "add" ? b : 0;
    for (std::uint64_t i = 0; i < adds; ++i) w.fetch_add(1, std::memory_order_relaxed);
    if (cmd != "write") std::printf("0x%016" PRIx64 "\n", w.load(std::memory_order_acquire));
  } else {
    return usage();
  }
  return 0;
}
