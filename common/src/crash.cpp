#include "gmm/crash.hpp"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <string>

namespace gmm {

namespace {

constexpr std::array<CrashPointInfo, static_cast<std::size_t>(CrashPoint::kCount)> kPoints{{
#define GMM_X(e, name, what) {CrashPoint::e, name, what},
    GMM_CRASH_POINTS(GMM_X)
#undef GMM_X
}};

constexpr std::uint32_t kDisarmed = 0xFFFFFFFFu;
std::atomic<std::uint32_t> g_armed{kDisarmed};
std::atomic<std::uint32_t> g_remaining{0};

}  // namespace

std::span<const CrashPointInfo> crash_points() { return kPoints; }

std::optional<CrashPoint> crash_point_by_name(std::string_view name) {
  for (const auto& p : kPoints)
    if (p.name == name) return p.point;
  return std::nullopt;
}

void crash_arm(CrashPoint point, std::uint32_t nth) {
  g_remaining.store(nth == 0 ? 1 : nth);
  g_armed.store(static_cast<std::uint32_t>(point));
}

void crash_disarm() { g_armed.store(kDisarmed); }

Status crash_arm_from_spec(std::string_view spec) {
  std::string_view name = spec;
  std::uint32_t nth = 1;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    name = spec.substr(0, colon);
    auto count = spec.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(count.data(), count.data() + count.size(), nth);
    if (ec != std::errc() || ptr != count.data() + count.size() || nth == 0)
      return make_error(Errc::kInvalidArgument, "crash point count must be a positive integer: " + std::string(spec));
  }
  auto point = crash_point_by_name(name);
  if (!point)
    return make_error(Errc::kInvalidArgument,
                      "unknown crash point '" + std::string(name) + "' (gmm-host points lists them)");
  crash_arm(*point, nth);
  return ok_status();
}

Status crash_arm_from_env() {
  const char* spec = std::getenv("GMMD_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return ok_status();
  return crash_arm_from_spec(spec);
}

void crash_point(CrashPoint point) {
  if (g_armed.load(std::memory_order_relaxed) != static_cast<std::uint32_t>(point)) return;
  if (g_remaining.fetch_sub(1) != 1) return;
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);  // not reached
}

}  // namespace gmm
