#include "gmm/crash.hpp"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>

namespace gmm {

namespace {

constexpr std::array<CrashPointInfo, static_cast<std::size_t>(CrashPoint::kCount)> kPoints{{
#define GMM_X(e, name, what) {CrashPoint::e, name, what},
    GMM_CRASH_POINTS(GMM_X)
#undef GMM_X
}};

constexpr std::uint32_t kDisarmed = 0xFFFFFFFFu;
constexpr std::uint32_t kAnyPoint = 0xFFFFFFFEu;
std::atomic<std::uint32_t> g_armed{kDisarmed};
std::atomic<std::uint32_t> g_remaining{0};
std::atomic<CrashAction> g_action{CrashAction::kKill};

std::optional<CrashAction> action_by_name(std::string_view name) {
  if (name == "kill") return CrashAction::kKill;
  if (name == "stop") return CrashAction::kStop;
  if (name == "hang") return CrashAction::kHang;
  return std::nullopt;
}

}  // namespace

std::span<const CrashPointInfo> crash_points() { return kPoints; }

std::optional<CrashPoint> crash_point_by_name(std::string_view name) {
  for (const auto& p : kPoints)
    if (p.name == name) return p.point;
  return std::nullopt;
}

void crash_arm(CrashPoint point, std::uint32_t nth, CrashAction action) {
  g_remaining.store(nth == 0 ? 1 : nth);
  g_action.store(action);
  g_armed.store(static_cast<std::uint32_t>(point));
}

void crash_arm_any(CrashAction action) {
  g_remaining.store(1);
  g_action.store(action);
  g_armed.store(kAnyPoint);
}

void crash_disarm() { g_armed.store(kDisarmed); }

bool crash_armed() { return g_armed.load() != kDisarmed; }

Result<CrashSpec> parse_crash_spec(std::string_view spec) {
  const auto wrong = [&] {
    return make_error(Errc::kInvalidArgument, "crash spec is POINT[:N][:kill|stop|hang], not '" + std::string(spec) + "'");
  };
  std::string_view rest = spec;
  auto next_field = [&rest] {
    const auto colon = rest.find(':');
    std::string_view field = rest.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    return field;
  };
  const std::string_view name = next_field();
  if (spec.ends_with(':')) return wrong();
  auto point = crash_point_by_name(name);
  if (!point)
    return make_error(Errc::kInvalidArgument,
                      "unknown crash point '" + std::string(name) + "' (gmm-host points lists them)");
  CrashSpec parsed{*point};
  bool have_count = false, have_action = false;
  while (!rest.empty()) {
    const std::string_view field = next_field();
    if (!field.empty() && field.find_first_not_of("0123456789") == std::string_view::npos && !have_count) {
      auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), parsed.nth);
      if (ec != std::errc() || parsed.nth == 0)
        return make_error(Errc::kInvalidArgument, "crash point count must be a positive integer: " + std::string(spec));
      have_count = true;
    } else if (auto action = action_by_name(field); action && !have_action) {
      parsed.action = *action;
      have_action = true;
    } else {
      return wrong();
    }
  }
  return parsed;
}

Status crash_arm_from_spec(std::string_view spec) {
  auto parsed = parse_crash_spec(spec);
  if (!parsed) return parsed.error();
  crash_arm(parsed->point, parsed->nth, parsed->action);
  return ok_status();
}

Status crash_arm_from_env() {
  const char* spec = std::getenv("GMMD_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return ok_status();
  return crash_arm_from_spec(spec);
}

void crash_point(CrashPoint point) {
  const std::uint32_t armed = g_armed.load(std::memory_order_relaxed);
  if (armed != static_cast<std::uint32_t>(point) && armed != kAnyPoint) return;
  if (g_remaining.fetch_sub(1) != 1) return;
  g_armed.store(kDisarmed);
  switch (g_action.load()) {
    case CrashAction::kKill:
      ::kill(::getpid(), SIGKILL);
      ::_exit(137);  // not reached
    case CrashAction::kStop:
      ::kill(::getpid(), SIGSTOP);  // the whole process, until SIGCONT
      return;
    case CrashAction::kHang:
      for (;;) ::pause();  // this thread only; the others run on
  }
}

}  // namespace gmm
